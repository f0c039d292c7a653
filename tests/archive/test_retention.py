"""Retention runs from the contract's termination: 5 years for terms ≤ 1 year, 10 otherwise (art. 87)."""

import datetime as dt

import pytest

from epolicy.archive.models import ArchivedObject
from epolicy.audit.models import AuditEvent
from epolicy.common.errors import ApplicationError
from epolicy.policies.archive_documents import policy_retention_recompute as archive_recompute_retention
from epolicy.policies.models import Policy

pytestmark = pytest.mark.django_db
D = dt.date


def retention_dates(policy: Policy) -> set:
    return set(
        ArchivedObject.objects.of(policy, policy.application).values_list("retention_until", flat=True)
    )


def test_one_year_policy_ended_early_keeps_five_years_from_the_termination(make_policy):
    policy = make_policy(start=D(2025, 3, 1), end=D(2026, 2, 28))
    assert retention_dates(policy) == {D(2031, 2, 28)}

    changed = archive_recompute_retention(policy=policy, actor="staff:alice", terminated_on=D(2025, 9, 15))

    assert changed == 2  # the policy document and the application form
    assert retention_dates(policy) == {D(2030, 9, 15)}
    event = AuditEvent.objects.get(action="archive.retention_recomputed")
    assert event.subject_id == policy.number and event.actor == "staff:alice"
    assert event.data["previous"] == ["2031-02-28"] and event.data["years"] == 5


def test_early_end_written_into_the_policy_is_read_from_it(make_policy):
    policy = make_policy(start=D(2025, 3, 1), end=D(2026, 2, 28))
    Policy.objects.filter(pk=policy.pk).update(period_end=D(2025, 6, 30), status=Policy.Status.CANCELLED)
    archive_recompute_retention(policy=policy, actor="system")
    assert retention_dates(policy) == {D(2030, 6, 30)}


def test_multi_year_policy_keeps_ten_years_even_when_it_ends_in_its_first_year(make_policy):
    policy = make_policy(start=D(2025, 1, 1), end=D(2027, 12, 31))
    assert retention_dates(policy) == {D(2037, 12, 31)}
    assert archive_recompute_retention(policy=policy, actor="system") == 0

    # The contracted term stays "over one year" although the policy ended after six months.
    Policy.objects.filter(pk=policy.pk).update(period_end=D(2025, 6, 30), status=Policy.Status.CANCELLED)
    archive_recompute_retention(policy=policy, actor="system")
    assert retention_dates(policy) == {D(2035, 6, 30)}


def test_endorsement_lengthening_the_term_moves_it_to_ten_years(make_policy):
    policy = make_policy(start=D(2025, 1, 1), end=D(2025, 12, 31))
    assert retention_dates(policy) == {D(2030, 12, 31)}
    Policy.objects.filter(pk=policy.pk).update(period_end=D(2026, 6, 30))  # endorsed: 18 months
    archive_recompute_retention(policy=policy, actor="system")
    assert retention_dates(policy) == {D(2036, 6, 30)}


def test_termination_after_the_end_of_the_term_is_refused(make_policy):
    policy = make_policy(start=D(2025, 1, 1), end=D(2025, 12, 31))
    with pytest.raises(ApplicationError) as exc:
        archive_recompute_retention(policy=policy, actor="system", terminated_on=D(2026, 1, 5))
    assert exc.value.code == "validation_error"
    assert retention_dates(policy) == {D(2030, 12, 31)}


def test_deleted_objects_are_left_alone(make_policy):
    policy = make_policy(start=D(2025, 1, 1), end=D(2025, 12, 31))
    gone = ArchivedObject.objects.of(policy, policy.application).first()
    ArchivedObject.objects.filter(pk=gone.pk).update(deleted_at=dt.datetime(2031, 1, 2, tzinfo=dt.UTC))
    assert archive_recompute_retention(policy=policy, actor="system", terminated_on=D(2025, 5, 1)) == 1
    gone.refresh_from_db()
    assert gone.retention_until == D(2030, 12, 31)
