"""Invariants of the engine over many generated policies (hypothesis)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from epolicy.products.life_tables import load_life_catalogue
from epolicy.rules.life import Accumulation, ChangeRefused, Loan, PolicyState, quote, values_on
from epolicy.rules.life.dates import anniversary, policy_year
from epolicy.rules.life.values import fen_down

from .builders import endowment_new, universal, whole_life

D = Decimal
CATALOGUE = load_life_catalogue()
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

sums_assured = st.integers(10, 500).map(lambda k: D(k * 1000).quantize(D("0.01")))
days_in_force = st.dates(min_value=date(2023, 3, 20), max_value=date(2042, 12, 31))


def endowment_on(on: date, sum_assured: Decimal, loans: tuple[Loan, ...] = ()) -> PolicyState:
    """The endowment fully paid, anniversaries processed to `on`, no accumulations."""
    base = endowment_new(CATALOGUE)
    processed = anniversary(base.effective_date, policy_year(base.effective_date, on) - 1)
    state = replace(
        base,
        sum_assured=sum_assured,
        paid_to=date(2033, 3, 1),
        anniversaries_processed_to=processed,
        loans=loans,
        loans_granted=len(loans),
    )
    return state


@st.composite
def existing_loans(draw, on: date, earliest: date = date(2023, 3, 20)):
    """0–2 loans taken between `earliest` (or 400 days back) and `on`, some of them large."""
    loans = []
    for i in range(draw(st.integers(0, 2))):
        start = max(earliest, on - timedelta(days=draw(st.integers(0, 400))))
        principal = draw(
            st.one_of(
                st.decimals(min_value=D("1"), max_value=D("2000"), places=2),
                st.decimals(min_value=D("10000"), max_value=D("40000"), places=2),
            )
        )
        loans.append(Loan(f"L{i + 1:03d}", principal, start, D("0.05"), start + timedelta(days=180)))
    return tuple(loans)


fractions = st.decimals(min_value=D("0"), max_value=D("1.3"), places=4)


@SETTINGS
@given(data=st.data(), on=days_in_force, sum_assured=sums_assured, fraction=fractions)
def test_a_loan_never_exceeds_the_limit(data, on, sum_assured, fraction):
    state = endowment_on(on, sum_assured, data.draw(existing_loans(on)))
    before = values_on(state, on, CATALOGUE)
    # around the limit (0 to 130% of it), to the fen
    amount = max(D("0.01"), (before.loan_limit * fraction).quantize(D("0.01")))
    try:
        q = quote("policy_loan", state, {"amount": str(amount)}, on=on, catalogue=CATALOGUE)
    except ChangeRefused as refused:
        codes = {r.code for r in refused.refusals}
        assert codes & {
            "loan_exceeds_limit",
            "loan_below_minimum",
            "loan_not_available",
            "policy_lapsed",
            "loan_term_invalid",
        }
        if amount > before.loan_limit and amount >= 500 and "policy_lapsed" not in codes:
            assert codes & {"loan_exceeds_limit", "loan_not_available"}
        event("refused")
        return
    event("granted")
    after = values_on(q.new_state, on, CATALOGUE)
    assert amount <= before.loan_limit
    assert after.debt == before.debt + amount
    assert after.debt <= fen_down(D("0.80") * after.cash_value)


@SETTINGS
@given(
    data=st.data(),
    on=st.dates(min_value=date(2026, 5, 10), max_value=date(2027, 5, 9)),
    dividends=st.decimals(min_value=0, max_value=5000, places=2),
    unpaid=st.decimals(min_value=0, max_value=5000, places=2),
    pua=st.decimals(min_value=0, max_value=20000, places=2),
)
def test_surrender_pays_exactly_value_plus_accumulations_less_debt(data, on, dividends, unpaid, pua):
    state = whole_life(
        CATALOGUE,
        dividends=Accumulation(dividends, date(2026, 5, 10)) if dividends else Accumulation(),
        dividends_unpaid=unpaid,
        paid_up_additions=pua,
        loans=data.draw(existing_loans(on, earliest=date(2026, 5, 10))),
    )
    v = values_on(state, on, CATALOGUE)
    q = quote("surrender", state, {}, on=on, catalogue=CATALOGUE)
    gross = v.cash_value + v.paid_up_additions_value + v.dividends_accumulated + unpaid
    assert q.amount_to_receive == max(D("0.00"), gross - v.debt)
    assert q.amount_to_receive >= 0
    assert sum(m.signed for m in q.movements) == q.amount_to_receive
    event("written off" if v.debt > gross else "paid")
    assert q.manual_review == (v.debt > gross)  # the excess debt is written off by hand
    assert q.new_state.loans == () and q.new_state.status == "surrendered"


@SETTINGS
@given(
    data=st.data(),
    on=st.dates(min_value=date(2026, 4, 1), max_value=date(2031, 12, 31)),
    sum_assured=st.integers(100, 500).map(lambda k: D(k * 1000).quantize(D("0.01"))),
)
def test_repaying_in_parts_or_at_once_leaves_the_same_debt(data, on, sum_assured):
    loans = data.draw(existing_loans(on))
    assume(loans)
    state = endowment_on(on, sum_assured, loans)
    owed = values_on(state, on, CATALOGUE).debt
    # shares of what is owed, to the fen, adding up to at most all of it
    shares = data.draw(
        st.lists(st.decimals(min_value=D("0.0001"), max_value=D("1"), places=4), min_size=1, max_size=4)
    )
    total = sum(shares)
    scale = max(total, D("1")) if data.draw(st.booleans()) else total  # sometimes exactly everything
    parts = [
        max(D("0.01"), (owed * share / scale).quantize(D("0.01"), rounding="ROUND_DOWN")) for share in shares
    ]
    assume(sum(parts) <= owed)
    stepwise = state
    for part in parts:
        stepwise = quote(
            "loan_repayment", stepwise, {"amount": str(part)}, on=on, catalogue=CATALOGUE
        ).new_state
    at_once = quote(
        "loan_repayment", state, {"amount": str(sum(parts))}, on=on, catalogue=CATALOGUE
    ).new_state
    assert stepwise.loans == at_once.loans
    assert values_on(stepwise, on, CATALOGUE).debt == owed - sum(parts)
    later = on + timedelta(days=data.draw(st.integers(0, 800)))
    assert values_on(stepwise, later, CATALOGUE).debt == values_on(at_once, later, CATALOGUE).debt


ITEM_PARAMS = st.sampled_from(
    [
        ("address_change", {"address": "北京市海淀区中关村大街1号"}),
        ("payment_frequency_change", {"frequency": "monthly"}),
        ("surrender", {}),
        ("reduce_sum_assured", {"new_sum_assured": "100000"}),
        ("policy_loan", {"amount": "1000"}),
        ("dividend_withdrawal", {}),
        ("dividend_option_change", {"option": "cash"}),
        ("additional_premium", {"amount": "5000"}),
        ("partial_withdrawal", {"amount": "5000"}),
        ("cooling_off_surrender", {}),
    ]
)


@SETTINGS
@given(
    item=ITEM_PARAMS,
    on=st.dates(min_value=date(2026, 5, 10), max_value=date(2027, 5, 9)),
    product=st.booleans(),
)
def test_quote_is_deterministic_and_pure(item, on, product):
    code, params = item
    state = whole_life(CATALOGUE) if product else universal(CATALOGUE)
    snapshot = state.to_json()

    def attempt():
        try:
            return quote(code, state, params, on=on, catalogue=CATALOGUE)
        except ChangeRefused as refused:
            return refused.refusals

    first, second = attempt(), attempt()
    event("refused" if isinstance(first, tuple) else "quoted")
    assert first == second
    assert state.to_json() == snapshot  # nothing was changed in place
    if not isinstance(first, tuple):
        assert sum(m.signed for m in first.movements) == first.amount_to_receive - first.amount_to_pay
        assert PolicyState.from_json(first.new_state.to_json()) == first.new_state
