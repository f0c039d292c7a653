"""交强险 (CTPL) premium and liability limits: pure rules over effective-dated tables passed in as data.

Premium = 基础保险费 × (1 + 与道路交通事故相联系的浮动比率 A), rounded to the fen (domain-reference §1.3).
No Django imports: the tables come from epolicy.products.tables (YAML) or are built by hand in tests.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from types import MappingProxyType
from typing import Literal, TypeVar, get_args

from epolicy.common.errors import ApplicationError
from epolicy.common.money import to_fen
from epolicy.rules.versioning import TableVersion

FloatingCode = Literal["A1", "A2", "A3", "A4", "A5", "A6"]
FLOATING_CODES: tuple[FloatingCode, ...] = get_args(FloatingCode)

# What a premium class is banded by; "flat" classes have a single band with no bounds.
Basis = Literal["seats", "tonnage", "displacement_cc", "flat"]
BASES: tuple[Basis, ...] = get_args(Basis)

_REGION_RE = re.compile(r"^\d{6}$")
_V = TypeVar("_V")


def readonly_mapping(value: Mapping[str, _V]) -> Mapping[str, _V]:
    """A read-only copy, so a frozen dataclass holding a table cannot be changed through its dicts."""
    return MappingProxyType(dict(value))


def region_lookup_codes(region_code: str) -> tuple[str, ...]:
    """Codes to try for a 6-digit division code: itself, its prefecture (XXXX00), its province (XX0000).

    Separately listed cities (深圳 440300, 大连 210200, ...) have their own entries, so a district code
    such as 440304 (福田区) resolves to 深圳 and 440106 (天河区) falls back to 广东 (440000).
    """
    if not _REGION_RE.match(region_code or ""):
        raise ApplicationError(
            "validation_error",
            "地区代码不正确，请填写 6 位行政区划代码（如北京 110000）。",
            {"field": "region_code", "value": region_code},
        )
    codes = [region_code, region_code[:4] + "00", region_code[:2] + "0000"]
    return tuple(dict.fromkeys(codes))


def region_name(region_code: str, names: Mapping[str, str]) -> str | None:
    """The name of the most specific known unit for a code (its own, its city's or its province's)."""
    for code in region_lookup_codes(region_code):
        if code in names:
            return names[code]
    return None


def region_label(region_code: str, names: Mapping[str, str]) -> str:
    """'安徽（340000）' when the code or its province is known, else the bare code."""
    name = region_name(region_code, names)
    return f"{name}（{region_code}）" if name else region_code


def _require_cover(version: TableVersion, on: date) -> None:
    if not version.covers(on):
        raise ApplicationError(
            "rate_table_missing",
            f"{on.isoformat()} 没有适用的交强险费率表（{version.name}），请联系保险公司。",
            {"table": version.name, "on": on.isoformat(), "loaded": version.label},
        )


# -------------------------------------------------------------------------- limits


@dataclass(frozen=True)
class CtplLimits:
    """Per-accident liability limits (责任限额), CNY; totals are derived, never typed in (§1.1)."""

    death_disability_at_fault: Decimal
    medical_at_fault: Decimal
    property_at_fault: Decimal
    death_disability_no_fault: Decimal
    medical_no_fault: Decimal
    property_no_fault: Decimal
    total_at_fault: Decimal = field(init=False)
    total_no_fault: Decimal = field(init=False)

    def __post_init__(self) -> None:
        amounts = (
            self.death_disability_at_fault,
            self.medical_at_fault,
            self.property_at_fault,
            self.death_disability_no_fault,
            self.medical_no_fault,
            self.property_no_fault,
        )
        if any(a <= 0 for a in amounts):
            raise ValueError("liability limits must be positive")
        object.__setattr__(
            self,
            "total_at_fault",
            self.death_disability_at_fault + self.medical_at_fault + self.property_at_fault,
        )
        object.__setattr__(
            self,
            "total_no_fault",
            self.death_disability_no_fault + self.medical_no_fault + self.property_no_fault,
        )


@dataclass(frozen=True)
class LimitsTable:
    version: TableVersion
    limits: CtplLimits


# -------------------------------------------------------------------- base premium


@dataclass(frozen=True)
class PremiumBand:
    """One band of a premium class. Bounds are in the class's basis (seats, tonnes, cc); None = open."""

    premium: Decimal
    label_zh: str
    lower: Decimal | None = None
    upper: Decimal | None = None

    def contains(self, value: Decimal, *, upper_inclusive: bool) -> bool:
        if upper_inclusive:
            above = self.lower is None or value > self.lower
            below = self.upper is None or value <= self.upper
        else:
            above = self.lower is None or value >= self.lower
            below = self.upper is None or value < self.upper
        return above and below


@dataclass(frozen=True)
class PremiumClass:
    """A 基础保费 class (use category), e.g. family_private banded by seats.

    Bands include the lower bound and exclude the upper bound (§1.2), except where the published table
    words a band as "…及以下" (motorcycles by cc), which sets upper_inclusive.
    """

    code: str
    name_zh: str
    basis: Basis
    bands: tuple[PremiumBand, ...] = ()
    upper_inclusive: bool = False
    available: bool = True
    unavailable_reason_zh: str | None = None

    def __post_init__(self) -> None:
        if self.basis not in BASES:
            raise ValueError(f"class {self.code}: unknown basis {self.basis!r}")
        if not self.available:
            if not self.unavailable_reason_zh:
                raise ValueError(f"class {self.code}: an unavailable class needs unavailable_reason_zh")
            return
        if not self.bands:
            raise ValueError(f"class {self.code}: no bands")
        if any(b.premium <= 0 for b in self.bands):
            raise ValueError(f"class {self.code}: premiums must be positive")
        if self.basis == "flat":
            if len(self.bands) != 1 or self.bands[0].lower is not None or self.bands[0].upper is not None:
                raise ValueError(f"class {self.code}: a flat class has exactly one unbounded band")
            return
        # Banded classes: sorted, contiguous, no gaps or overlaps, last band open-ended.
        for prev, nxt in itertools.pairwise(self.bands):
            if prev.upper is None or nxt.lower != prev.upper:
                raise ValueError(
                    f"class {self.code}: bands must be contiguous ({prev.label_zh} / {nxt.label_zh})"
                )
        for band in self.bands:
            if band.lower is not None and band.upper is not None and band.upper <= band.lower:
                raise ValueError(f"class {self.code}: empty band {band.label_zh}")

    def band_for(self, value: Decimal) -> PremiumBand | None:
        for band in self.bands:
            if band.contains(value, upper_inclusive=self.upper_inclusive):
                return band
        return None


@dataclass(frozen=True)
class BasePremiumTable:
    version: TableVersion
    classes: Mapping[str, PremiumClass]
    trailer_factor: Decimal
    trailer_classes: frozenset[str]

    def __post_init__(self) -> None:
        object.__setattr__(self, "classes", readonly_mapping(self.classes))
        for code, cls in self.classes.items():
            if code != cls.code:
                raise ValueError(f"class key {code!r} does not match class code {cls.code!r}")
        if not Decimal(0) < self.trailer_factor <= Decimal(1):
            raise ValueError("trailer_factor must be in (0, 1]")
        unknown = self.trailer_classes - set(self.classes)
        if unknown:
            raise ValueError(f"trailer applies to unknown classes {sorted(unknown)}")


# ------------------------------------------------------------------------ floating


@dataclass(frozen=True)
class FloatingPlan:
    """A regional plan (方案) of floating rates A1–A6, e.g. plan E for 江苏、浙江、安徽 ... (§1.3)."""

    code: str
    name_zh: str
    rates: Mapping[str, Decimal]
    regions: Mapping[str, str]  # 6-digit division code -> Chinese name
    confirmed: bool = True
    source: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "rates", readonly_mapping(self.rates))
        object.__setattr__(self, "regions", readonly_mapping(self.regions))
        if set(self.rates) != set(FLOATING_CODES):
            raise ValueError(f"plan {self.code}: rates must give exactly {', '.join(FLOATING_CODES)}")
        for code in self.regions:
            if not _REGION_RE.match(code):
                raise ValueError(f"plan {self.code}: region code {code!r} is not 6 digits")


@dataclass(frozen=True)
class FloatingTable:
    version: TableVersion
    plans: tuple[FloatingPlan, ...]
    rate_floor: Decimal  # largest discount allowed anywhere, e.g. -0.50
    rate_cap: Decimal  # largest loading allowed anywhere, e.g. 0.30

    def __post_init__(self) -> None:
        seen: dict[str, str] = {}
        for plan in self.plans:
            for code, rate in plan.rates.items():
                if not self.rate_floor <= rate <= self.rate_cap:
                    raise ValueError(
                        f"plan {plan.code} {code}: rate {rate} outside [{self.rate_floor}, {self.rate_cap}]"
                    )
            for region in plan.regions:
                if region in seen:
                    raise ValueError(f"region {region} is in plans {seen[region]} and {plan.code}")
                seen[region] = plan.code

    def plan_for(self, region_code: str) -> tuple[FloatingPlan, str] | None:
        """The plan covering a region and the code it matched (the district, city or province code)."""
        for code in region_lookup_codes(region_code):
            for plan in self.plans:
                if code in plan.regions:
                    return plan, code
        return None


@dataclass(frozen=True)
class CtplTables:
    """Everything ctpl_quote needs, each table being the version effective on the quote date."""

    base_premium: BasePremiumTable
    floating: FloatingTable
    limits: LimitsTable
    region_names: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "region_names", readonly_mapping(self.region_names))

    @property
    def versions(self) -> tuple[str, ...]:
        return (self.base_premium.version.label, self.floating.version.label, self.limits.version.label)


# --------------------------------------------------------------------------- quote


@dataclass(frozen=True, kw_only=True)
class CtplInput:
    """What the CTPL quote depends on. floating_code None = no claims history (new vehicle): rate 0%."""

    use_category: str
    seats: int
    region_code: str
    on: date
    tonnage: Decimal | None = None
    displacement_cc: int | None = None
    is_trailer: bool = False
    floating_code: FloatingCode | None = None


@dataclass(frozen=True)
class CtplQuote:
    use_category: str
    class_name_zh: str
    band_label_zh: str
    base_premium: Decimal
    floating_code: FloatingCode | None
    floating_rate: Decimal
    premium: Decimal
    limits: CtplLimits
    plan_code: str
    plan_name_zh: str
    region_code: str  # the code the plan matched (e.g. 440300 for an input of 440304)
    region_name_zh: str
    confirmed: bool  # False when an UNCONFIRMED table or plan figure was used
    table_versions: tuple[str, ...]


def _invalid(field_name: str, message_zh: str, value: object) -> ApplicationError:
    return ApplicationError("validation_error", message_zh, {"field": field_name, "value": str(value)})


def _basis_value(inp: CtplInput, cls: PremiumClass) -> Decimal | None:
    if cls.basis == "seats":
        if inp.seats < 1:
            raise _invalid("seats", "核定座位数须为正整数。", inp.seats)
        return Decimal(inp.seats)
    if cls.basis == "tonnage":
        if inp.tonnage is None or inp.tonnage <= 0:
            raise _invalid("tonnage", "货车、挂车须填写核定载质量（吨），且大于 0。", inp.tonnage)
        return inp.tonnage
    if cls.basis == "displacement_cc":
        if inp.displacement_cc is None or inp.displacement_cc <= 0:
            raise _invalid("displacement_cc", "摩托车须填写排气量（毫升），且大于 0。", inp.displacement_cc)
        return Decimal(inp.displacement_cc)
    return None


def base_premium_for(inp: CtplInput, table: BasePremiumTable) -> tuple[PremiumClass, PremiumBand, Decimal]:
    """基础保险费 for a vehicle: the band of its class; a trailer pays the trailer factor of it (§1.2)."""
    cls = table.classes.get(inp.use_category)
    if cls is None:
        raise ApplicationError(
            "validation_error",
            "车辆使用性质不正确，请重新选择。",
            {"field": "use_category", "value": inp.use_category, "allowed": sorted(table.classes)},
        )
    if not cls.available:
        raise ApplicationError(
            "quote_not_available",
            cls.unavailable_reason_zh,
            {"use_category": cls.code},
        )
    if inp.is_trailer and cls.code not in table.trailer_classes:
        raise ApplicationError(
            "quote_not_available",
            f"挂车按同吨位货车计算，“{cls.name_zh}”不能按挂车报价，请联系客服。",
            {"use_category": cls.code, "is_trailer": True},
        )
    value = _basis_value(inp, cls)
    band = cls.bands[0] if value is None else cls.band_for(value)
    if band is None:
        raise ApplicationError(
            "quote_not_available",
            f"“{cls.name_zh}”没有适用于该车辆（{value}）的基础保费档次，请核对车辆信息或联系客服。",
            {"use_category": cls.code, "basis": cls.basis, "value": str(value)},
        )
    premium = band.premium
    if inp.is_trailer:
        premium = to_fen(premium * table.trailer_factor)
    return cls, band, to_fen(premium)


def floating_rate_for(
    inp: CtplInput, table: FloatingTable, region_names: Mapping[str, str]
) -> tuple[FloatingPlan, str, Decimal]:
    """The region's plan and the rate for the vehicle's floating code (0 without a code)."""
    found = table.plan_for(inp.region_code)
    if found is None:
        label = region_label(inp.region_code, region_names)
        raise ApplicationError(
            "quote_not_available",
            f"地区 {label} 没有交强险费率浮动方案，暂不支持线上报价，请联系客服。",
            {"region_code": inp.region_code, "table": table.version.label},
        )
    plan, matched = found
    if inp.floating_code is None:
        return plan, matched, Decimal("0")
    if inp.floating_code not in plan.rates:
        raise _invalid("floating_code", "费率浮动代码不正确（应为 A1–A6）。", inp.floating_code)
    return plan, matched, plan.rates[inp.floating_code]


def ctpl_quote(inp: CtplInput, tables: CtplTables) -> CtplQuote:
    """交强险 premium = base × (1 + A), to the fen, with the limits in force on the date (§1.1–1.3)."""
    for version in (tables.base_premium.version, tables.floating.version, tables.limits.version):
        _require_cover(version, inp.on)
    cls, band, base = base_premium_for(inp, tables.base_premium)
    plan, matched, rate = floating_rate_for(inp, tables.floating, tables.region_names)
    premium = to_fen(base * (Decimal(1) + rate))
    confirmed = (
        tables.base_premium.version.confirmed
        and tables.limits.version.confirmed
        and (inp.floating_code is None or plan.confirmed)
    )
    return CtplQuote(
        use_category=cls.code,
        class_name_zh=cls.name_zh,
        band_label_zh=band.label_zh + ("（挂车）" if inp.is_trailer else ""),
        base_premium=base,
        floating_code=inp.floating_code,
        floating_rate=rate,
        premium=premium,
        limits=tables.limits.limits,
        plan_code=plan.code,
        plan_name_zh=plan.name_zh,
        region_code=matched,
        region_name_zh=plan.regions[matched],
        confirmed=confirmed,
        table_versions=tables.versions,
    )


def ctpl_limits(on: date, table: LimitsTable) -> CtplLimits:
    """The liability limits in force on a date (§1.1); refuses a table that does not cover it."""
    _require_cover(table.version, on)
    return table.limits


def floating_code_from_history(
    claim_free_years: int, at_fault_claims_last_year: int, fatal_last_year: bool
) -> FloatingCode | None:
    """Floating factor code from the claims record (2007 暂行办法 A1–A6, §1.3); None = no history.

    claim_free_years counts consecutive policy years without an at-fault accident, ending last year.
    Where several factors apply the higher loading wins, so a fatal accident is A6 whatever else happened.
    """
    if claim_free_years < 0:
        raise _invalid("claim_free_years", "连续未出险年数不能为负数。", claim_free_years)
    if at_fault_claims_last_year < 0:
        raise _invalid("at_fault_claims_last_year", "上年有责事故次数不能为负数。", at_fault_claims_last_year)
    if fatal_last_year and at_fault_claims_last_year == 0:
        raise _invalid(
            "at_fault_claims_last_year",
            "上年发生有责死亡事故时，有责事故次数至少为 1。",
            at_fault_claims_last_year,
        )
    if at_fault_claims_last_year > 0 and claim_free_years > 0:
        raise _invalid("claim_free_years", "上年发生有责事故时，连续未出险年数应为 0。", claim_free_years)
    if fatal_last_year:
        return "A6"
    if at_fault_claims_last_year >= 2:
        return "A5"
    if at_fault_claims_last_year == 1:
        return "A4"
    if claim_free_years >= 3:
        return "A3"
    if claim_free_years == 2:
        return "A2"
    if claim_free_years == 1:
        return "A1"
    return None
