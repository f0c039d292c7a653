"""Anniversaries: dividends and survival benefits allocated as a new version; changes resume after it."""

import datetime as dt

import pytest

from epolicy.audit.models import AuditEvent
from epolicy.common import clock
from epolicy.rules.life import PolicyState
from epolicy.servicing.anniversary import life_anniversaries_process, life_policy_roll_forward
from epolicy.servicing.models import LifePolicy, LifePolicyVersion
from epolicy.servicing.selectors import current_version
from epolicy.servicing.services import change_items_available

pytestmark = pytest.mark.django_db


def _state(number):
    return PolicyState.from_json(current_version(LifePolicy.objects.get(number=number)).state)


def test_processing_twice_writes_nothing_the_second_time(demo):
    for number in demo.values():
        life_policy_roll_forward(policy_number=number, actor="test")
    versions = LifePolicyVersion.objects.count()
    for number in demo.values():
        assert life_policy_roll_forward(policy_number=number, actor="test") == 0
    assert LifePolicyVersion.objects.count() == versions


def test_a_passed_anniversary_is_allocated_once_and_changes_resume(demo):
    whole_life = demo["whole_life_in_force"]
    before = _state(whole_life)
    next_anniversary = before.anniversaries_processed_to.replace(
        year=before.anniversaries_processed_to.year + 1
    )
    later = next_anniversary + dt.timedelta(days=3)
    with clock.frozen_clock(clock.start_of_day(later) + dt.timedelta(hours=10)):
        blocked = {a.code: a for a in change_items_available(policy_number=whole_life, actor="test")}
        assert any(r.code == "anniversary_pending" for r in blocked["address_change"].refusals)
        events = life_policy_roll_forward(policy_number=whole_life, actor="test")
        assert events >= 1
        after = _state(whole_life)
        assert after.anniversaries_processed_to == next_anniversary
        assert LifePolicy.objects.get(number=whole_life).current_version == 2
        assert AuditEvent.objects.filter(action="life_policy.anniversary", subject_id=whole_life).count() == 1
        # Processing again the same day changes nothing.
        assert life_policy_roll_forward(policy_number=whole_life, actor="test") == 0
        open_items = {a.code: a for a in change_items_available(policy_number=whole_life, actor="test")}
        assert open_items["address_change"].available


def test_daily_job_processes_every_policy(demo):
    far = clock.today() + dt.timedelta(days=400)
    with clock.frozen_clock(clock.start_of_day(far) + dt.timedelta(hours=10)):
        done = life_anniversaries_process(actor="test")
    assert set(done) == set(demo.values())
    assert sum(done.values()) >= 1
