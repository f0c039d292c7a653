"""The engine's common checks: the item list, who may ask, policy status, dates, pending work."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from epolicy.common.errors import CODES
from epolicy.rules.life import (
    ITEMS,
    ChangeRefused,
    Loan,
    Party,
    PendingChange,
    available_items,
    effective_status,
    eligibility,
    quote,
    values_on,
)
from epolicy.rules.life.errors import LIFE_CODES

from .builders import HOLDER, endowment, endowment_lapsed, universal, whole_life

D = Decimal
ON = date(2026, 6, 15)

GUIDE_ORDER = [
    ("address_change", "联系地址变更"),
    ("postcode_change", "邮编变更"),
    ("payment_frequency_change", "交费方式变更"),
    ("payment_account_change", "交费账号变更"),
    ("dividend_option_change", "红利领取方式变更"),
    ("survival_benefit_authorization", "生存金领取授权"),
    ("cooling_off_surrender", "犹豫期退保"),
    ("surrender", "退保"),
    ("reduce_sum_assured", "减少保额"),
    ("additional_premium", "追加保费"),
    ("partial_withdrawal", "账户价值部分领取"),
    ("reinstatement", "保单复效"),
    ("policy_loan", "保单借款"),
    ("loan_repayment", "保单还款"),
    ("dividend_withdrawal", "红利领取"),
    ("survival_benefit_withdrawal", "生存金领取"),
]


def codes(refusals):
    return [r.code for r in refusals]


def test_the_sixteen_items_in_the_guides_order():
    assert [(i.code, i.name_zh) for i in ITEMS] == GUIDE_ORDER


def test_life_codes_do_not_clash_with_existing_codes_and_have_chinese_messages():
    import re

    assert set(LIFE_CODES) <= set(CODES)  # merged (errors.py refuses a code defined twice)
    for code, (status, message) in LIFE_CODES.items():
        assert re.fullmatch(r"[a-z_]+", code)
        assert 400 <= status < 600
        assert re.search(r"[\u4e00-\u9fff]", message)


def test_an_unknown_item_is_refused_not_raised(catalogue):
    state = endowment(catalogue)
    assert codes(eligibility("change_name", state, on=ON, catalogue=catalogue)) == ["item_unknown"]
    with pytest.raises(ChangeRefused) as info:
        quote("change_name", state, {}, on=ON, catalogue=catalogue)
    assert info.value.code == "life_change_refused"
    assert info.value.details["refusals"][0]["code"] == "item_unknown"


def test_an_item_the_product_does_not_offer(catalogue):
    refusals = eligibility("dividend_withdrawal", endowment(catalogue), on=ON, catalogue=catalogue)
    assert codes(refusals) == ["item_not_offered"]
    assert "安康两全保险（演示）" in refusals[0].message_zh


def test_before_the_effective_date(catalogue):
    refusals = eligibility("address_change", endowment(catalogue), on=date(2023, 2, 1), catalogue=catalogue)
    assert codes(refusals) == ["policy_not_yet_effective"]


def test_a_date_before_the_last_change_is_refused(catalogue):
    # the survival benefit was struck on 2026-03-01: asking as of 2026-02-01 cannot be answered
    refusals = eligibility("surrender", endowment(catalogue), on=date(2026, 2, 1), catalogue=catalogue)
    assert codes(refusals) == ["date_before_last_change"]
    assert refusals[0].details["last_change"] == "2026-03-01"


def test_only_the_applicant_may_ask(catalogue):
    state = endowment(catalogue)
    stranger = Party("P-9999", "王芳")
    assert eligibility("address_change", state, on=ON, catalogue=catalogue, applicant=HOLDER) == ()
    refusals = eligibility("address_change", state, on=ON, catalogue=catalogue, applicant=stranger)
    assert codes(refusals) == ["not_policy_applicant"]


def test_survival_items_belong_to_the_survival_beneficiary(catalogue):
    beneficiary = Party("P-0003", "张小明")
    state = endowment(catalogue, survival_beneficiary=beneficiary)
    for item in ("survival_benefit_withdrawal", "survival_benefit_authorization"):
        assert codes(eligibility(item, state, on=ON, catalogue=catalogue, applicant=HOLDER)) == [
            "not_survival_beneficiary"
        ]
        assert eligibility(item, state, on=ON, catalogue=catalogue, applicant=beneficiary) == ()


def test_a_pending_change_blocks_every_item(catalogue):
    state = endowment(catalogue, pending_change=PendingChange("reinstatement", "CH-1", date(2026, 6, 1)))
    refusals = eligibility("address_change", state, on=ON, catalogue=catalogue)
    assert codes(refusals) == ["change_pending"]
    assert "保单复效" in refusals[0].message_zh
    for a in available_items(state, on=ON, catalogue=catalogue):
        assert codes(a.refusals)[:1] in (["change_pending"], ["item_not_offered"])


def test_unprocessed_anniversaries_block_changes(catalogue):
    # the 2027-03-01 anniversary (a year-4 anniversary: no survival benefit, but it must be run)
    state = endowment(catalogue, paid_to=date(2028, 3, 1))
    refusals = eligibility("address_change", state, on=date(2027, 3, 2), catalogue=catalogue)
    assert codes(refusals) == ["anniversary_pending"]
    # universal life has no anniversary events
    assert eligibility("address_change", universal(catalogue), on=date(2027, 3, 2), catalogue=catalogue) == ()


def test_terminated_policies_are_refused_for_everything(catalogue):
    state = endowment(catalogue, status="surrendered", terminated_on=date(2026, 5, 1))
    for availability in available_items(state, on=ON, catalogue=catalogue):
        assert codes(availability.refusals)[:1] in (["policy_terminated"], ["item_not_offered"])


def test_premium_more_than_sixty_days_overdue_lapses_the_policy(catalogue):
    # paid to 2025-03-01; grace covers it and the 60 days after (to 2025-04-30); suspended from 05-01
    state = endowment_lapsed(catalogue)
    terms = catalogue.product("DEMO-END20").terms_for(state.effective_date)
    in_grace = effective_status(
        state, date(2025, 4, 30), terms, values_on(state, date(2025, 4, 30), catalogue)
    )
    lapsed = effective_status(state, date(2025, 5, 1), terms, values_on(state, date(2025, 5, 1), catalogue))
    assert in_grace.status == "in_force"
    assert (lapsed.status, lapsed.lapse_date, lapsed.lapse_reason) == ("lapsed", date(2025, 5, 1), "premium")
    refusals = eligibility("policy_loan", state, on=date(2025, 5, 1), catalogue=catalogue)
    assert "policy_lapsed" in codes(refusals)
    assert "2025年05月01日" in refusals[codes(refusals).index("policy_lapsed")].message_zh


def test_debt_reaching_the_cash_value_suspends_the_policy(catalogue):
    # cash value on 2026-06-15: 21,839.73; a loan of 21,900 taken the same day exceeds it
    loan = Loan("L001", D("21900.00"), ON, D("0.05"), date(2026, 12, 12))
    state = endowment(catalogue, loans=(loan,), loans_granted=1)
    refusals = eligibility("policy_loan", state, on=ON, catalogue=catalogue)
    assert "policy_lapsed" in codes(refusals)
    lapsed = refusals[codes(refusals).index("policy_lapsed")]
    assert lapsed.details["reason"] == "debt"
    # still allowed: repaying, surrendering
    assert eligibility("loan_repayment", state, on=ON, catalogue=catalogue) == ()
    assert eligibility("surrender", state, on=ON, catalogue=catalogue) == ()


def test_reinstatement_of_a_policy_in_force(catalogue):
    assert codes(eligibility("reinstatement", endowment(catalogue), on=ON, catalogue=catalogue)) == [
        "policy_not_lapsed"
    ]


def test_a_matured_endowment_only_pays_out(catalogue):
    state = endowment(catalogue, paid_to=date(2033, 3, 1), anniversaries_processed_to=date(2042, 3, 1))
    on = date(2043, 3, 1)
    available = {a.code for a in available_items(state, on=on, catalogue=catalogue) if a.available}
    assert available == {"survival_benefit_withdrawal"}


def test_quote_raises_every_reason_at_once(catalogue):
    state = endowment(catalogue, pending_change=PendingChange("surrender", "CH-2", ON))
    with pytest.raises(ChangeRefused) as info:
        quote("policy_loan", state, {"amount": "100"}, on=date(2026, 2, 1), catalogue=catalogue)
    assert codes(info.value.refusals) == ["date_before_last_change"]
    with pytest.raises(ChangeRefused) as info:
        quote(
            "payment_frequency_change",
            replace(state, paid_to=date(2026, 3, 1)),
            {"frequency": "monthly"},
            on=date(2026, 4, 1),
            catalogue=catalogue,
        )
    assert codes(info.value.refusals) == ["change_pending", "premium_overdue"]
    assert "另有 1 项" in info.value.message_zh


def test_available_items_lists_all_sixteen_with_reasons(catalogue):
    available = available_items(whole_life(catalogue), on=date(2026, 8, 18), catalogue=catalogue)
    assert [a.code for a in available] == [code for code, _ in GUIDE_ORDER]
    open_items = {a.code for a in available if a.available}
    assert open_items == {
        "address_change",
        "postcode_change",
        "payment_frequency_change",
        "payment_account_change",
        "dividend_option_change",
        "surrender",
        "reduce_sum_assured",
        "policy_loan",
        "dividend_withdrawal",
    }
    for a in available:
        for refusal in a.refusals:
            assert refusal.code in LIFE_CODES or refusal.code in CODES
            assert refusal.message_zh
