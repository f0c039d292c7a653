"""A motor policy's state follows the calendar (未起保 → 有效 → 已到期), set by the scheduler's job, shown
by the query and the API, audited, with retention recomputed when it ends; cancelled ones are left alone."""

from __future__ import annotations

import datetime as dt

import pytest

from epolicy.archive.models import ArchivedObject
from epolicy.audit.models import AuditEvent
from epolicy.common import clock
from epolicy.motor.demo import demo_application_input
from epolicy.motor.journey import run_journey
from epolicy.policies.models import Policy
from epolicy.policies.selectors import policy_find
from epolicy.policies.status import policy_status_sweep, status_on
from epolicy.policies.tasks import policy_status_task

pytestmark = pytest.mark.django_db


def at(day: dt.date, hour: int = 0, minute: int = 5) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=clock.SHANGHAI)


@pytest.mark.parametrize(
    ("offset", "state"),
    [(-1, "not_started"), (0, "in_force"), (365, "in_force"), (366, "expired")],
)
def test_the_calendar_state_of_a_one_year_policy(offset, state):
    start = dt.date(2027, 3, 1)
    end = dt.date(2028, 2, 29)  # across a 29 February: the last day is start + 365 days
    assert status_on(period_start=start, period_end=end, day=start + dt.timedelta(days=offset)) == state


@pytest.fixture
def policy(pki, committed):
    with committed(execute=True):
        return run_journey(demo_application_input(61))


def test_a_policy_issued_before_its_start_is_not_yet_in_force_and_says_so(policy):
    assert policy.status == Policy.Status.NOT_STARTED
    found = policy_find(policy_number=policy.number, id_number=policy.applicant.id_number, plate=policy.plate)
    assert found.get_status_display() == "未起保"


def test_the_scheduler_moves_it_on_its_dates_and_audits_each_move(policy):
    start, end = policy.period_start, policy.period_end
    assert policy_status_sweep(now=at(start - dt.timedelta(days=1), 23, 59)) == 0
    assert policy_status_sweep(now=at(start)) == 1
    policy.refresh_from_db()
    assert policy.status == Policy.Status.IN_FORCE
    assert policy_status_sweep(now=at(start, 12)) == 0  # idempotent
    assert policy_status_sweep(now=at(end, 23, 59)) == 0  # cover runs to 24:00 of its last day
    assert policy_status_sweep(now=at(end + dt.timedelta(days=1))) == 1
    policy.refresh_from_db()
    assert policy.status == Policy.Status.EXPIRED
    moves = AuditEvent.objects.filter(action="policy.status_changed", subject_id=policy.number)
    assert [(e.data["from"], e.data["to"]) for e in moves.order_by("seq")] == [
        ("not_started", "in_force"),
        ("in_force", "expired"),
    ]
    # Ended: every document of the policy and its application is kept 5 years after the end (≤ 1 year).
    dates = set(
        ArchivedObject.objects.of(policy, policy.application).values_list("retention_until", flat=True)
    )
    assert dates == {end.replace(year=end.year + 5)}
    assert AuditEvent.objects.filter(action="archive.retention_recomputed", subject_id=policy.number).exists()


def test_a_policy_found_long_after_its_end_goes_straight_to_expired(policy):
    assert policy_status_sweep(now=at(policy.period_end + dt.timedelta(days=400))) == 1
    policy.refresh_from_db()
    assert policy.status == Policy.Status.EXPIRED


def test_a_cancelled_policy_is_left_alone_by_the_calendar(policy):
    Policy.objects.filter(pk=policy.pk).update(status=Policy.Status.CANCELLED)
    assert policy_status_sweep(now=at(policy.period_end + dt.timedelta(days=1))) == 0
    policy.refresh_from_db()
    assert policy.status == Policy.Status.CANCELLED


def test_the_scheduled_task_runs_the_sweep(policy):
    with clock.frozen_clock(at(policy.period_start, 1)):
        assert policy_status_task.enqueue().return_value == 1
