"""Policy values on a date, against figures worked out by hand from the demo catalogue."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from epolicy.common.errors import ApplicationError
from epolicy.rules.life import Accumulation, Loan, UniversalAccount, values_on
from epolicy.rules.life.catalogue import RatePoint, RateSeries
from epolicy.rules.life.interest import accrue, loan_balance

from .builders import endowment, endowment_new, universal, whole_life

D = Decimal

# Endowment DEMO-END20, SA 100,000, effective 2023-03-01; table per 1,000: end of year 1 = 60,
# year 2 = 170, year 3 = 185, year 4 = 300. value = SA / 1000 × (low + (high − low) × elapsed / days).
CASH_VALUES = [
    # on the effective date: nothing elapsed, 0
    ("issue_day", date(2023, 3, 1), "0", "0.00"),
    # 2023-03-01 → 2023-09-01 is 184 of the 366 days of year 1 (29 Feb 2024 inside):
    # 60 × 184/366 = 30.16393…; × 100 = 3,016.39
    ("year1_mid", date(2023, 9, 1), "30.16393442622950819672131148", "3016.39"),
    # the first anniversary: the end-of-year-1 value, 60 × 100 = 6,000.00
    ("anniversary1", date(2024, 3, 1), "60", "6000.00"),
    # year 4 (2026-03-01 → 2027-03-01, 365 days), 106 days in: 185 + 115 × 106/365
    # = 185 + 33.39726… = 218.39726…; × 100 = 21,839.73
    ("year4_day106", date(2026, 6, 15), "218.3972602739726027397260274", "21839.73"),
    # 184 days into year 4: 185 + 115 × 184/365 = 242.97260…; × 100 = 24,297.26
    ("year4_day184", date(2026, 9, 1), "242.9726027397260273972602740", "24297.26"),
    # the last day of year 4 (364 of 365): 185 + 115 × 364/365 = 299.68493…; 29,968.49
    ("year4_last_day", date(2027, 2, 28), "299.6849315068493150684931507", "29968.49"),
]


@pytest.mark.parametrize(("case", "on", "per_1000", "value"), CASH_VALUES, ids=[c[0] for c in CASH_VALUES])
def test_cash_value_is_interpolated_linearly_by_days_within_the_policy_year(
    catalogue, case, on, per_1000, value
):
    state = endowment(catalogue, survival_benefits=Accumulation())  # balances struck later
    values = values_on(state, on, catalogue)
    assert values.cash_value_per_1000 == D(per_1000)
    assert values.cash_value == D(value)


def test_cash_value_stays_at_the_paid_to_date_while_a_premium_is_unpaid(catalogue):
    # Paid to 2025-03-01 (the start of year 3: table 170), unpaid since: on 2025-11-10 the value is
    # still 170 × 100 = 17,000.00, not the year-3 interpolation (which would be 177.6…).
    state = endowment(
        catalogue, paid_to=date(2025, 3, 1), premiums_paid=D("24400.00"), survival_benefits=Accumulation()
    )
    assert values_on(state, date(2025, 11, 10), catalogue).cash_value == D("17000.00")
    # before the due date it runs as usual: 2025-02-01 is 337 of 366 days... of year 2 (2024-03-01 →
    # 2025-03-01, 365 days): 60 + 110 × 337/365 = 161.5616…; 16,156.16
    assert values_on(state, date(2025, 2, 1), catalogue).cash_value == D("16156.16")


def test_cash_value_of_a_fully_paid_policy_runs_on(catalogue):
    # Premium term 10 years: paid to 2033-03-01 is fully paid. On 2034-09-01 (year 12, 184 of 365
    # days, 2034-03-01 → 2035-03-01): 850 + (790 − 850) × 184/365 = 819.75342…; 81,975.34
    state = endowment(catalogue, paid_to=date(2033, 3, 1), anniversaries_processed_to=date(2034, 3, 1))
    assert values_on(state, date(2034, 9, 1), catalogue).cash_value == D("81975.34")


def test_after_maturity_the_last_table_value_holds(catalogue):
    state = endowment(catalogue, paid_to=date(2033, 3, 1))
    assert values_on(state, date(2043, 3, 1), catalogue).cash_value == D("100000.00")
    assert values_on(state, date(2044, 1, 1), catalogue).cash_value == D("100000.00")


def test_a_whole_life_policy_beyond_the_demo_table_has_no_value(catalogue):
    state = whole_life(catalogue, paid_to=date(2042, 5, 10))
    with pytest.raises(ApplicationError) as info:
        values_on(state, date(2052, 6, 1), catalogue)  # policy year 31: the demo table stops at 30
    assert info.value.code == "life_value_unavailable"


def test_whole_life_cash_value_and_paid_up_additions(catalogue):
    # Year 5 (2026-05-10 → 2027-05-10), 100 days in: 55 + (78 − 55) × 100/365 = 61.30137…;
    # × 200 = 12,260.27. Paid-up additions 5,000 at attained age 30 + 5 − 1 = 34 (band 31–40: 330 per
    # 1,000): 5 × 330 = 1,650.00.
    state = whole_life(catalogue, paid_up_additions=D("5000.00"))
    values = values_on(state, date(2026, 8, 18), catalogue)
    assert values.cash_value == D("12260.27")
    assert values.paid_up_additions_value == D("1650.00")
    assert values.surrender_value == D("13910.27")


def test_accumulations_earn_interest_capitalised_on_anniversaries(catalogue):
    # Survival benefit 10,000.00 from 2026-03-01 at 2.5% (rate from 2025-01-01):
    # 10,000 × 0.025 × 106/365 = 72.60 to 2026-06-15.
    state = endowment(catalogue)
    assert values_on(state, date(2026, 6, 15), catalogue).survival_accumulated == D("10072.60")
    # To 2027-06-15: 365 days to the 2027-03-01 anniversary give 250.00, capitalised; then
    # 10,250.00 × 0.025 × 106/365 = 74.42: 10,324.42
    assert values_on(state, date(2027, 6, 15), catalogue).survival_accumulated == D("10324.42")


def test_an_interest_period_is_split_where_the_declared_rate_changes(catalogue):
    # 955.04 from 2024-05-10 to 2025-05-10: 236 days at 3% then 129 days at 2.5% (from 2025-01-01):
    # 955.04 × (0.03 × 236 + 0.025 × 129) / 365 = 955.04 × 10.305 / 365 = 26.963… → 26.96: 982.00
    state = whole_life(catalogue, dividends=Accumulation(D("955.04"), date(2024, 5, 10)))
    series = catalogue.product("DEMO-WLPAR").declared.accumulation
    assert accrue(D("955.04"), date(2024, 5, 10), date(2025, 5, 10), series).total == D("982.00")
    # a day earlier: 236 days at 3%, 128 at 2.5%: 955.04 × 10.28 / 365 = 26.898… → 26.90: 981.94
    assert values_on(state, date(2025, 5, 9), catalogue).dividends_accumulated == D("981.94")


def test_universal_account_is_credited_monthly_at_the_declared_rate_or_the_guarantee(catalogue):
    # 2026-03-15 → 2026-04-15 (31 days) at the declared 2.0%: 100,000 × 0.02 × 31/365 = 169.86
    state = universal(catalogue)
    values = values_on(state, date(2026, 4, 15), catalogue)
    assert values.account_value == D("100169.86")
    # policy year 2 (from 2026-01-15): surrender charge 4% × 100,169.86 = 4,006.79
    assert values.surrender_charge == D("4006.79")
    assert values.surrender_value == D("96163.07")
    # Mid-month: 2026-04-15 → 2026-04-25 (10 days) on 100,169.86: 54.89 not yet credited but counted
    # 100,169.86 × 0.02 × 10/365 = 54.8876… → 100,224.75
    assert values_on(state, date(2026, 4, 25), catalogue).account_value == D("100224.75")


@pytest.mark.parametrize(
    ("effective", "expected"),
    [
        # 2024-10 filing guarantees 1.5% > declared 1.2%: 100,000 × 0.015 × 31/365 = 127.40
        (date(2025, 1, 15), "100127.40"),
        # the 2020 filing guarantees 2.5%: 100,000 × 0.025 × 31/365 = 212.33
        (date(2023, 6, 15), "100212.33"),
    ],
)
def test_the_guaranteed_rate_is_a_floor_and_depends_on_the_filing(catalogue, effective, expected):
    state = universal(
        catalogue,
        effective_date=effective,
        received_date=effective,
        paid_to=effective,
        anniversaries_processed_to=effective,
        universal=UniversalAccount(D("100000.00"), date(2026, 7, 15)),
    )
    assert values_on(state, date(2026, 8, 15), catalogue).account_value == D(expected)


def test_surrender_charge_is_zero_after_the_charge_table(catalogue):
    state = universal(catalogue, universal=UniversalAccount(D("50000.00"), date(2030, 1, 15)))
    values = values_on(state, date(2030, 1, 15), catalogue)  # policy year 6: no charge
    assert values.policy_year == 6
    assert values.surrender_charge == D("0.00")


def test_loan_interest_is_capitalised_at_the_due_date_and_the_loan_renews(catalogue):
    loan = Loan("L001", D("10000.00"), date(2026, 1, 10), D("0.05"), date(2026, 7, 9))
    state = endowment(catalogue, loans=(loan,), loans_granted=1)
    # before the due date: 10,000 × 0.05 × 100/365 = 136.99 accrued (2026-01-10 → 2026-04-20)
    before = values_on(state, date(2026, 4, 20), catalogue).loans[0]
    assert (before.capitalised_interest, before.accrued_interest, before.total) == (
        D("0.00"),
        D("136.99"),
        D("10136.99"),
    )
    # at the due date 2026-07-09: 10,000 × 0.05 × 180/365 = 246.58 capitalised; then 54 days on
    # 10,246.58: × 0.05 × 54/365 = 75.80 accrued. Renewed to 2027-01-05 (180 days on).
    after = values_on(state, date(2026, 9, 1), catalogue).loans[0]
    assert after.capitalised_interest == D("246.58")
    assert after.accrued_interest == D("75.80")
    assert after.total == D("10322.38")
    assert after.due_date == date(2027, 1, 5)


def test_loan_limit_is_the_share_of_cash_value_less_debt_rounded_down(catalogue):
    # 0.8 × 21,839.73 = 17,471.784 → 17,471.78 (down)
    state = endowment(catalogue)
    assert values_on(state, date(2026, 6, 15), catalogue).loan_limit == D("17471.78")
    # with a loan owing 10,136.99 on 2026-04-20 (cash value that day: 185 + 115 × 50/365 = 200.7534…
    # → 20,075.34; 0.8 × = 16,060.272 → 16,060.27): 16,060.27 − 10,136.99 = 5,923.28
    loan = Loan("L001", D("10000.00"), date(2026, 1, 10), D("0.05"), date(2026, 7, 9))
    values = values_on(replace(state, loans=(loan,)), date(2026, 4, 20), catalogue)
    assert values.cash_value == D("20075.34")
    assert values.loan_limit == D("5923.28")


def test_net_surrender_never_goes_below_zero(catalogue):
    loan = Loan("L001", D("30000.00"), date(2026, 3, 2), D("0.05"), date(2026, 8, 29))
    state = endowment(catalogue, loans=(loan,), survival_benefits=Accumulation())
    values = values_on(state, date(2026, 3, 2), catalogue)
    assert values.debt > values.gross_surrender
    assert values.net_surrender == D("0.00")


def test_values_before_the_effective_date_are_a_programming_error(catalogue):
    with pytest.raises(ValueError):
        values_on(endowment_new(catalogue), date(2023, 2, 28), catalogue)


def test_rate_series_answers_per_day_and_refuses_days_before_it():
    series = RateSeries(
        "测试利率", (RatePoint(date(2024, 1, 1), D("0.03")), RatePoint(date(2025, 1, 1), D("0.02")))
    )
    assert series.rate_on(date(2024, 12, 31)) == D("0.03")
    assert series.rate_on(date(2025, 1, 1)) == D("0.02")
    assert series.changes_between(date(2024, 6, 1), date(2025, 6, 1)) == (date(2025, 1, 1),)
    with pytest.raises(ApplicationError) as info:
        series.rate_on(date(2023, 12, 31))
    assert info.value.code == "life_rate_missing"
    with pytest.raises(ValueError):
        RateSeries("乱序", (RatePoint(date(2025, 1, 1), D("0.02")), RatePoint(date(2024, 1, 1), D("0.03"))))


def test_loan_balance_of_a_loan_repaid_in_part_accrues_from_the_repayment(catalogue):
    # after a repayment on 2026-09-01 the loan holds 7,322.38 from that day: to 2026-10-01 (30 days)
    # 7,322.38 × 0.05 × 30/365 = 30.09
    loan = Loan(
        "L001", D("7322.38"), date(2026, 1, 10), D("0.05"), date(2027, 1, 5), interest_from=date(2026, 9, 1)
    )
    balance = loan_balance(loan, date(2026, 10, 1), 180)
    assert balance.accrued_interest == D("30.09")
    assert balance.total == D("7352.47")
