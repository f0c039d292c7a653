"""Money of a motor endorsement (批改): what is refunded when a policy is cancelled or a coverage is
taken off mid-term. Pure: dates and amounts in, a frozen result out; the method and the fee are data
(products/data/motor_endorsements.yaml).

A term runs from 0:00 of `period_start` to 24:00 of `period_end`; a change takes effect at 0:00 of
`effective_on`. Days are whole days: the cover of `period_start .. effective_on - 1` was used.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

FEN = Decimal("0.01")
METHODS = ("daily",)


def _fen(amount: Decimal) -> Decimal:
    return amount.quantize(FEN, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Term:
    period_start: dt.date
    period_end: dt.date

    def __post_init__(self) -> None:
        if self.period_end < self.period_start:
            raise ValueError("period_end before period_start")

    @property
    def days(self) -> int:
        return (self.period_end - self.period_start).days + 1

    def days_used(self, effective_on: dt.date) -> int:
        """Whole days of cover before `effective_on` (0 before the start, all days after the end)."""
        return min(self.days, max(0, (effective_on - self.period_start).days))


@dataclass(frozen=True)
class Refund:
    premium: Decimal  # what was paid for the part taken off (a policy, or a coverage with its riders)
    days_total: int
    days_used: int
    fee: Decimal  # 退保手续费 (commercial, before the start)
    kept: Decimal  # premium the insurer keeps for the days used, plus the fee
    refund: Decimal
    basis_zh: str  # how it was computed, printed on the e-endorsement

    @property
    def days_left(self) -> int:
        return self.days_total - self.days_used


def refund_by_day(
    *,
    premium: Decimal,
    term: Term,
    effective_on: dt.date,
    fee_rate_before_start: Decimal = Decimal("0"),
    method: str = "daily",
) -> Refund:
    """Premium kept for the days used (按日计算), the rest refunded; before the start of cover the fee
    rate (商业险 3 %) is kept instead. Rounded to the fen, half up, once: on the amount kept."""
    if method not in METHODS:
        raise ValueError(f"unknown refund method {method!r}")
    if premium < 0:
        raise ValueError("negative premium")
    if not Decimal("0") <= fee_rate_before_start < Decimal("1"):
        raise ValueError("fee rate outside 0..1")
    used = term.days_used(effective_on)
    if effective_on <= term.period_start:
        fee = _fen(premium * fee_rate_before_start)
        basis = (
            f"保险责任开始前解除：按保险费的 {fee_rate_before_start * 100:.0f}% 收取退保手续费 {fee}，"
            "其余退还"
            if fee
            else "保险责任开始前解除：保险费全额退还"
        )
        return Refund(premium, term.days, 0, fee, fee, premium - fee, basis)
    kept = _fen(premium * used / term.days)
    basis = f"按日计算：保险费 {premium} × 已经过 {used} 天 / 保险期间 {term.days} 天 = 保留 {kept}，其余退还"
    return Refund(premium, term.days, used, Decimal("0.00"), kept, premium - kept, basis)


def vehicle_tax_claimable(*, annual_tax: Decimal, effective_on: dt.date, tax_year: int) -> Decimal:
    """车船税 an owner may claim back at the tax office for a vehicle stolen, scrapped or lost
    (车船税法实施条例 第十九、二十条): from the month of the loss to the end of the tax year."""
    if effective_on.year > tax_year:
        return Decimal("0.00")
    months = 12 if effective_on.year < tax_year else 12 - effective_on.month + 1
    return _fen(annual_tax * months / 12)
