"""The demo policies: each in the state its name says, and every item can be tried on one of them."""

from __future__ import annotations

from datetime import date

import pytest

from epolicy.rules.life import ITEMS, PolicyState, available_items, eligibility
from epolicy.rules.life.demo import demo_policies

TODAYS = [date(2025, 3, 31), date(2026, 11, 20), date(2028, 2, 29), date(2030, 12, 31)]


def open_items(state, today, catalogue):
    return {a.code for a in available_items(state, on=today, catalogue=catalogue) if a.available}


@pytest.mark.parametrize("today", TODAYS)
def test_every_item_can_be_tried_on_some_demo_policy(catalogue, today):
    policies = demo_policies(catalogue, today)
    tried = set().union(*(open_items(state, today, catalogue) for state in policies.values()))
    assert tried == {item.code for item in ITEMS}


@pytest.mark.parametrize("today", TODAYS)
def test_each_demo_policy_is_in_its_named_state(catalogue, today):
    p = demo_policies(catalogue, today)
    assert "cooling_off_surrender" in open_items(p["whole_life_in_cooling_off"], today, catalogue)
    assert "cooling_off_surrender" in open_items(p["universal_in_cooling_off"], today, catalogue)
    assert "loan_repayment" in open_items(p["endowment_with_loan"], today, catalogue)
    assert "survival_benefit_withdrawal" in open_items(p["endowment_in_force"], today, catalogue)
    assert "dividend_withdrawal" in open_items(p["whole_life_in_force"], today, catalogue)
    assert "dividend_withdrawal" in open_items(p["whole_life_monthly_cash"], today, catalogue)
    assert "partial_withdrawal" in open_items(p["universal_in_force"], today, catalogue)
    eight = p["endowment_lapsed_8_months"]
    assert eight.status == "lapsed" and 7 <= (today - eight.lapse_date).days / 30.4 <= 10
    assert "reinstatement" in open_items(eight, today, catalogue)
    three = p["endowment_lapsed_3_years"]
    assert [r.code for r in eligibility("reinstatement", three, on=today, catalogue=catalogue)] == [
        "reinstatement_window_expired"
    ]
    assert "surrender" in open_items(three, today, catalogue)


def test_demo_policies_are_stable_and_storable(catalogue):
    first = demo_policies(catalogue, date(2026, 11, 20))
    assert first == demo_policies(catalogue, date(2026, 11, 20))
    assert len({s.policy_number for s in first.values()}) == len(first)
    for state in first.values():
        assert PolicyState.from_json(state.to_json()) == state
