"""The life product catalogue as data: contract terms by filing version, and declared rates over time.

Two kinds of effective dating, because a life contract mixes both:
- `ProductTerms` are the contract (premium rates, cash-value table, benefit schedule, servicing clauses).
  A policy keeps the terms of the version effective on its effective date for its whole life.
- Declared rates (loan interest, accumulation interest, reinstatement interest, universal-life crediting,
  dividend declarations) are announced by the insurer from time to time and apply to every policy from
  the day they take effect: a `RateSeries` answers "which rate on this day".
Built from YAML by epolicy.products.life_tables, or by hand in tests.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from types import MappingProxyType

from epolicy.common.errors import ApplicationError
from epolicy.rules.versioning import TableVersion as Version

from .vocab import DividendOption, Frequency, ProductKind, Sex, SurvivalOption

THOUSAND = Decimal(1000)


def _readonly(value: Mapping) -> Mapping:  # type: ignore[type-arg]
    return MappingProxyType(dict(value))


@dataclass(frozen=True)
class RatePoint:
    effective_from: date
    rate: Decimal  # a yearly rate, 0.05 = 5%
    confirmed: bool = False
    note: str = ""


@dataclass(frozen=True)
class RateSeries:
    """A declared yearly rate that changes on announced dates; each point holds until the next one."""

    name: str
    points: tuple[RatePoint, ...]

    def __post_init__(self) -> None:
        if not self.points:
            raise ValueError(f"{self.name}: no rates")
        for prev, nxt in itertools.pairwise(self.points):
            if nxt.effective_from <= prev.effective_from:
                raise ValueError(f"{self.name}: rates must be in increasing effective_from order")
        for point in self.points:
            if point.rate < 0:
                raise ValueError(f"{self.name}: negative rate {point.rate}")

    def rate_on(self, day: date) -> Decimal:
        chosen = None
        for point in self.points:
            if point.effective_from > day:
                break
            chosen = point
        if chosen is None:
            raise ApplicationError(
                "life_rate_missing",
                f"{day.isoformat()} 没有适用的{self.name}，请联系保险公司。",
                {"rate": self.name, "on": day.isoformat()},
            )
        return chosen.rate

    def changes_between(self, start: date, end: date) -> tuple[date, ...]:
        """Dates in (start, end) on which the rate changes."""
        return tuple(p.effective_from for p in self.points if start < p.effective_from < end)


@dataclass(frozen=True)
class PremiumBand:
    """Annual premium per 1,000 of sum assured for issue ages age_from..age_to (inclusive)."""

    age_from: int
    age_to: int
    male: Decimal
    female: Decimal

    def rate(self, sex: Sex) -> Decimal:
        return self.male if sex == "M" else self.female


@dataclass(frozen=True)
class AgeValue:
    age_from: int
    age_to: int
    value: Decimal


@dataclass(frozen=True)
class BenefitPayment:
    """A survival benefit paid at the end of `policy_year` (its anniversary): a share of sum assured."""

    policy_year: int
    share_of_sum_assured: Decimal


@dataclass(frozen=True)
class HealthQuestion:
    code: str
    text_zh: str


@dataclass(frozen=True)
class ServicingTerms:
    """The contract's servicing clauses (cooling-off, grace, reinstatement, policy loans)."""

    cooling_off_days: int
    cooling_off_fee: Decimal
    grace_days: int
    reinstatement_years: int
    loan_share: Decimal | None = None  # None: the product has no policy loans
    loan_term_days: int = 0
    loan_min: Decimal = Decimal(0)


@dataclass(frozen=True)
class UniversalTerms:
    """Universal-life account rules; rate tuples are by policy year (index 0 = year 1), 0 after the end."""

    guaranteed_rate: Decimal
    initial_charge_rate: Decimal
    withdrawal_fee_rates: tuple[Decimal, ...]
    surrender_charge_rates: tuple[Decimal, ...]
    free_withdrawal_share: Decimal  # of the account value at the year's first withdrawal, fee-free
    min_remaining_value: Decimal
    min_withdrawal: Decimal
    min_additional_premium: Decimal
    max_additional_premium: Decimal

    @staticmethod
    def _by_year(rates: tuple[Decimal, ...], year: int) -> Decimal:
        return rates[year - 1] if 1 <= year <= len(rates) else Decimal(0)

    def withdrawal_fee_rate(self, year: int) -> Decimal:
        return self._by_year(self.withdrawal_fee_rates, year)

    def surrender_charge_rate(self, year: int) -> Decimal:
        return self._by_year(self.surrender_charge_rates, year)


@dataclass(frozen=True)
class ProductTerms:
    """One filing version of a product: the contract of every policy effective while it was in force."""

    version: Version
    items: frozenset[str]
    frequencies: Mapping[Frequency, Decimal]  # modal premium = annual premium × factor
    premium_term_years: int  # 0: single premium
    coverage_years: int | None  # None: whole life
    issue_age_min: int
    issue_age_max: int
    premium_rates: tuple[PremiumBand, ...]
    cash_values: tuple[Decimal, ...]  # per 1,000 sum assured at the end of policy years 1..n
    min_sum_assured: Decimal
    sum_assured_unit: Decimal
    servicing: ServicingTerms
    survival_benefits: tuple[BenefitPayment, ...] = ()
    maturity_share: Decimal | None = None
    dividend_options: tuple[DividendOption, ...] = ()
    survival_options: tuple[SurvivalOption, ...] = ()
    paid_up_addition_rates: tuple[AgeValue, ...] = ()  # net single premium per 1,000 by attained age
    universal: UniversalTerms | None = None
    health_questions: tuple[HealthQuestion, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "frequencies", _readonly(self.frequencies))

    def premium_rate(self, age: int, sex: Sex) -> Decimal:
        for band in self.premium_rates:
            if band.age_from <= age <= band.age_to:
                return band.rate(sex)
        raise ApplicationError(
            "life_value_unavailable",
            f"费率表中没有投保年龄 {age} 岁的费率，请联系保险公司。",
            {"age": age, "table": self.version.label},
        )

    def cash_value_per_1000(self, year_end: int) -> Decimal:
        """Cash value per 1,000 at the end of a policy year (0 at the start of the contract)."""
        if year_end == 0:
            return Decimal(0)
        if not 1 <= year_end <= len(self.cash_values):
            raise ApplicationError(
                "life_value_unavailable",
                f"现金价值表没有第 {year_end} 保单年度的数值，请联系保险公司。",
                {"policy_year": year_end, "table": self.version.label},
            )
        return self.cash_values[year_end - 1]

    def paid_up_addition_rate(self, attained_age: int) -> Decimal:
        for band in self.paid_up_addition_rates:
            if band.age_from <= attained_age <= band.age_to:
                return band.value
        raise ApplicationError(
            "life_value_unavailable",
            f"交清增额保险费率表中没有 {attained_age} 岁的数值，请联系保险公司。",
            {"age": attained_age, "table": self.version.label},
        )


@dataclass(frozen=True)
class DividendDeclaration:
    """Dividend rate declared for policy years ending in `year`: dividend = rate × (SA + paid-up SA)."""

    year: int
    rate: Decimal
    confirmed: bool = False


@dataclass(frozen=True)
class DeclaredRates:
    loan_interest: RateSeries | None = None
    accumulation: RateSeries | None = None
    reinstatement_interest: RateSeries | None = None
    crediting: RateSeries | None = None
    dividends: Mapping[int, DividendDeclaration] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "dividends", _readonly(self.dividends))

    def require(self, name: str) -> RateSeries:
        series = getattr(self, name)
        if series is None:
            raise ApplicationError(
                "life_rate_missing", "该产品没有配置所需的利率，请联系保险公司。", {"rate": name}
            )
        return series  # type: ignore[no-any-return]


@dataclass(frozen=True)
class Product:
    code: str
    name_zh: str
    kind: ProductKind
    demo: bool
    source: str
    versions: tuple[ProductTerms, ...]  # by version.effective_from, not overlapping
    declared: DeclaredRates

    def __post_init__(self) -> None:
        if not self.versions:
            raise ValueError(f"{self.code}: no versions")
        for prev, nxt in itertools.pairwise(self.versions):
            if prev.version.effective_to is None or prev.version.effective_to >= nxt.version.effective_from:
                raise ValueError(f"{self.code}: versions from {prev.version.effective_from} overlap")

    def terms_for(self, effective_date: date) -> ProductTerms:
        """The filing version a policy effective on that date was issued under."""
        for terms in self.versions:
            if terms.version.covers(effective_date):
                return terms
        raise ApplicationError(
            "life_terms_missing",
            f"{effective_date.isoformat()} 生效的保单没有适用的产品条款（{self.code}），请联系保险公司。",
            {"product": self.code, "effective_date": effective_date.isoformat()},
        )


@dataclass(frozen=True)
class Regulation:
    """Regulatory limits the catalogue is checked against, and that the engine applies on top of it."""

    cooling_off_min_days: int
    cooling_off_fee_cap: Decimal
    source: str = ""


@dataclass(frozen=True)
class LifeCatalogue:
    products: Mapping[str, Product]
    regulation: Regulation

    def __post_init__(self) -> None:
        object.__setattr__(self, "products", _readonly(self.products))

    def product(self, code: str) -> Product:
        try:
            return self.products[code]
        except KeyError:
            raise ApplicationError(
                "life_product_unknown",
                f"产品 {code} 不在产品目录中，请联系保险公司。",
                {"product": code},
            ) from None
