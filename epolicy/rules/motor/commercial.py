"""商业车险 (commercial motor cover): clause set, coverages and riders, actual value, premium; pure rules.

Premium per line = 基准纯风险保费 ÷ (1 − 附加费用率) × NCD系数 × 自主定价系数 (× 交通违法系数 where the
region uses one), rounded to the fen once per line (domain-reference §3, II.3). Clauses: IAC 2020
示范条款 (`iac2020`) and the 2021 新能源汽车商业保险专属条款 (`nev2021`) (II.1, II.2). Every table (the
catalogue, pure premiums, depreciation, NCD, coefficient ranges) is passed in as data; see
epolicy.products.commercial_tables and docs/commercial-cover.md. No Django imports.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from types import MappingProxyType
from typing import Any, Literal, get_args

from epolicy.common.errors import ApplicationError
from epolicy.common.money import to_fen
from epolicy.rules.motor.ctpl import TableVersion, readonly_mapping, region_lookup_codes, region_name

ClauseSetCode = Literal["iac2020", "nev2021"]
CLAUSE_SETS: tuple[ClauseSetCode, ...] = get_args(ClauseSetCode)

# Vehicle kinds follow the rows of the depreciation table (II.3): 9座以下客车, 10座以上客车, 微型载货 /
# 带拖挂载货, 低速货车和三轮汽车, and 其他车辆 (other trucks, special vehicles, motorcycles, tractors).
VehicleKind = Literal[
    "passenger_small",  # 客车 9 座及以下
    "passenger_large",  # 客车 10 座及以上
    "truck_mini",  # 微型载货汽车
    "truck_with_trailer",  # 带拖挂的载货汽车
    "truck_low_speed",  # 低速货车和三轮汽车
    "truck",  # 其他载货汽车
    "special",  # 特种车
    "motorcycle",
    "tractor",
]
VEHICLE_KINDS: tuple[VehicleKind, ...] = get_args(VehicleKind)
KIND_NAMES: Mapping[str, str] = readonly_mapping(
    {
        "passenger_small": "9座及以下客车",
        "passenger_large": "10座及以上客车",
        "truck_mini": "微型载货汽车",
        "truck_with_trailer": "带拖挂的载货汽车",
        "truck_low_speed": "低速货车和三轮汽车",
        "truck": "载货汽车",
        "special": "特种车",
        "motorcycle": "摩托车",
        "tractor": "拖拉机",
    }
)

UseCategory = Literal["family_private", "non_commercial", "commercial_taxi", "commercial_other"]
USE_CATEGORIES: tuple[UseCategory, ...] = get_args(UseCategory)
USE_NAMES: Mapping[str, str] = readonly_mapping(
    {
        "family_private": "家庭自用",
        "non_commercial": "非营业",
        "commercial_taxi": "营业出租租赁",
        "commercial_other": "营业其他",
    }
)

EnergyType = Literal["fuel", "bev", "phev", "fcev"]
ENERGY_TYPES: tuple[EnergyType, ...] = get_args(EnergyType)
NEV_ENERGY_TYPES: frozenset[str] = frozenset({"bev", "phev", "fcev"})

# How a main coverage's amount is set: 实际价值 (computed), a per-accident limit, a per-seat limit.
MainBasis = Literal["actual_value", "limit", "per_seat_limit"]
MAIN_BASES: tuple[MainBasis, ...] = get_args(MainBasis)

# How a rider is priced (its pure premium):
#   parent_discount  −factor × the parent's pure premium (绝对免赔率: factor by the chosen rate option)
#   parent_share     factor × the parent's pure premium
#   amount_rate      rate × the chosen amount (sum insured or limit)
#   amount_table     a premium per amount option (车身划痕)
#   days_daily       rate × days × daily amount (修理期间费用补偿)
#   services         Σ price × times per service (增值服务)
RiderBasis = Literal[
    "parent_discount", "parent_share", "amount_rate", "amount_table", "days_daily", "services"
]
RIDER_BASES: tuple[RiderBasis, ...] = get_args(RiderBasis)

ZERO = Decimal(0)
ONE = Decimal(1)
DEFAULT_REGION = "default"

# The request fields each basis may carry ("parent" is allowed on every rider).
_PARAMS: Mapping[str, frozenset[str]] = {
    "actual_value": frozenset(),
    "limit": frozenset({"amount"}),
    "per_seat_limit": frozenset({"amount", "seats"}),
    "parent_discount": frozenset({"parent", "rate"}),
    "parent_share": frozenset({"parent"}),
    "amount_rate": frozenset({"parent", "amount"}),
    "amount_table": frozenset({"parent", "amount"}),
    "days_daily": frozenset({"parent", "days", "daily_amount"}),
    "services": frozenset({"parent", "services"}),
}


# ============================================================================ catalogue


@dataclass(frozen=True)
class ClauseSet:
    """A set of model clauses and the vehicles it is for (II.1, II.2)."""

    code: str
    name_zh: str
    effective_from: date
    energy_types: frozenset[str]
    excluded_kinds: frozenset[str] = frozenset()
    source: str = ""
    confirmed: bool = False

    def __post_init__(self) -> None:
        if self.code not in CLAUSE_SETS:
            raise ValueError(f"unknown clause set {self.code!r}")
        if not self.energy_types or not self.energy_types <= set(ENERGY_TYPES):
            raise ValueError(
                f"clause set {self.code}: energy_types must be a non-empty subset of {ENERGY_TYPES}"
            )
        if not self.excluded_kinds <= set(VEHICLE_KINDS):
            raise ValueError(f"clause set {self.code}: unknown excluded kinds {sorted(self.excluded_kinds)}")

    def admits(self, kind: str, energy: str, on: date) -> bool:
        return self.effective_from <= on and energy in self.energy_types and kind not in self.excluded_kinds


def _check_names(code: str, names: Mapping[str, str], clause_sets: frozenset[str]) -> None:
    if not clause_sets or not clause_sets <= set(CLAUSE_SETS):
        raise ValueError(f"{code}: clause_sets must be a non-empty subset of {CLAUSE_SETS}")
    if set(names) != clause_sets:
        raise ValueError(f"{code}: names must give exactly one name per clause set {sorted(clause_sets)}")


def _check_amounts(code: str, options: tuple[Decimal, ...]) -> None:
    if any(a <= 0 for a in options):
        raise ValueError(f"{code}: amount options must be positive")
    if list(options) != sorted(set(options)):
        raise ValueError(f"{code}: amount options must be strictly increasing")


@dataclass(frozen=True)
class MainCoverage:
    """A 主险: 车损 (sum insured = actual value), 三者 (limit ladder), 车上人员 driver / passenger."""

    code: str
    names: Mapping[str, str]  # clause set -> Chinese name
    clause_sets: frozenset[str]
    basis: MainBasis
    amount_options: tuple[Decimal, ...] = ()
    included: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # clause set -> folded-in items
    source: str = ""
    confirmed: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "names", readonly_mapping(self.names))
        object.__setattr__(self, "included", readonly_mapping(self.included))
        _check_names(self.code, self.names, self.clause_sets)
        if self.basis not in MAIN_BASES:
            raise ValueError(f"{self.code}: basis must be one of {MAIN_BASES}")
        if (self.basis == "actual_value") == bool(self.amount_options):
            raise ValueError(
                f"{self.code}: amount options are required for a limit, refused for actual value"
            )
        _check_amounts(self.code, self.amount_options)
        if not set(self.included) <= self.clause_sets:
            raise ValueError(f"{self.code}: included items for a clause set the coverage is not in")


@dataclass(frozen=True)
class Rider:
    """A 附加险 and what it attaches to; the options the insured may choose."""

    code: str
    names: Mapping[str, str]
    clause_sets: frozenset[str]
    attaches_to: tuple[str, ...]
    basis: RiderBasis
    per_parent: bool = False  # one instance per parent coverage (绝对免赔率, 精神损害, 医保外)
    family_only: bool = False  # 法定节假日限额翻倍险: 家庭自用汽车 only
    amount_options: tuple[Decimal, ...] = ()
    amount_min: Decimal | None = None
    amount_max: Decimal | None = None
    rate_options: tuple[Decimal, ...] = ()
    max_days: int | None = None
    daily_options: tuple[Decimal, ...] = ()
    services: Mapping[str, str] = field(default_factory=dict)  # service code -> Chinese name
    max_times: int | None = None
    source: str = ""
    confirmed: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "names", readonly_mapping(self.names))
        object.__setattr__(self, "services", readonly_mapping(self.services))
        _check_names(self.code, self.names, self.clause_sets)
        if self.basis not in RIDER_BASES:
            raise ValueError(f"{self.code}: basis must be one of {RIDER_BASES}")
        if not self.attaches_to or len(set(self.attaches_to)) != len(self.attaches_to):
            raise ValueError(f"{self.code}: attaches_to must list distinct main coverages")
        _check_amounts(self.code, self.amount_options)
        _check_amounts(self.code, self.daily_options)
        if any(not ZERO < r < ONE for r in self.rate_options):
            raise ValueError(f"{self.code}: rate options must be in (0, 1)")
        has_range = self.amount_min is not None or self.amount_max is not None
        if self.basis in ("amount_rate", "amount_table"):
            if bool(self.amount_options) == has_range:
                raise ValueError(f"{self.code}: give either amount_options or amount_min/amount_max")
            if self.basis == "amount_table" and not self.amount_options:
                raise ValueError(f"{self.code}: a priced-by-option rider needs amount_options")
            if has_range and (self.amount_min is None or self.amount_max is None):
                raise ValueError(f"{self.code}: amount_min and amount_max go together")
            if (
                self.amount_min is not None
                and self.amount_max is not None
                and not (ZERO < self.amount_min <= self.amount_max)
            ):
                raise ValueError(f"{self.code}: need 0 < amount_min <= amount_max")
        elif self.amount_options or has_range:
            raise ValueError(f"{self.code}: amounts only for amount_rate / amount_table riders")
        if (self.basis == "days_daily") != (self.max_days is not None and bool(self.daily_options)):
            raise ValueError(f"{self.code}: max_days and daily_options are for days_daily riders only")
        if self.max_days is not None and self.max_days < 1:
            raise ValueError(f"{self.code}: max_days must be positive")
        if (self.basis == "services") != (bool(self.services) and self.max_times is not None):
            raise ValueError(f"{self.code}: services and max_times are for services riders only")
        if self.rate_options and self.basis != "parent_discount":
            raise ValueError(f"{self.code}: rate options only for a parent_discount rider")

    @property
    def parent_priced(self) -> bool:
        return self.basis in ("parent_discount", "parent_share")


@dataclass(frozen=True)
class CoverageCatalogue:
    """Clause sets, main coverages and riders as effective on one date (commercial_coverages.yaml)."""

    version: TableVersion
    clause_sets: Mapping[str, ClauseSet]
    coverages: Mapping[str, MainCoverage]
    riders: Mapping[str, Rider]

    def __post_init__(self) -> None:
        for name in ("clause_sets", "coverages", "riders"):
            object.__setattr__(self, name, readonly_mapping(getattr(self, name)))
        keyed: list[tuple[str, str]] = [(k, v.code) for k, v in self.clause_sets.items()]
        keyed += [(k, v.code) for k, v in self.coverages.items()]
        keyed += [(k, v.code) for k, v in self.riders.items()]
        for key, code in keyed:
            if key != code:
                raise ValueError(f"key {key!r} does not match code {code!r}")
        clash = set(self.coverages) & set(self.riders)
        if clash:
            raise ValueError(f"codes both a main coverage and a rider: {sorted(clash)}")
        for item in self.entries():
            unknown = item.clause_sets - set(self.clause_sets)
            if unknown:
                raise ValueError(f"{item.code}: unknown clause sets {sorted(unknown)}")
        for rider in self.riders.values():
            for parent in rider.attaches_to:
                cover = self.coverages.get(parent)
                if cover is None:
                    raise ValueError(f"{rider.code}: attaches to unknown main coverage {parent!r}")
                if not rider.clause_sets <= cover.clause_sets:
                    raise ValueError(f"{rider.code}: in a clause set its parent {parent} is not in")
            if rider.parent_priced and len(rider.attaches_to) > 1 and not rider.per_parent:
                raise ValueError(f"{rider.code}: priced on its parent, so it must be per_parent or single")

    def entries(self) -> tuple[MainCoverage | Rider, ...]:
        return (*self.coverages.values(), *self.riders.values())

    def item(self, code: str) -> MainCoverage | Rider | None:
        return self.coverages.get(code) or self.riders.get(code)


# ================================================================================ rates


@dataclass(frozen=True)
class RateRow:
    """One class of a pure-premium table: which clause sets, vehicle kinds and uses it prices.

    damage: base + rate × sum insured; third_party: base × limit factor; driver: base + rate × limit;
    passenger: (base + rate × per-seat limit) × seats.
    """

    clause_sets: frozenset[str]
    kinds: frozenset[str]
    uses: frozenset[str]
    base: Decimal
    rate: Decimal = ZERO

    def __post_init__(self) -> None:
        if not self.clause_sets <= set(CLAUSE_SETS) or not self.clause_sets:
            raise ValueError(f"rate row: clause sets {sorted(self.clause_sets)} invalid")
        if not self.kinds <= set(VEHICLE_KINDS) or not self.kinds:
            raise ValueError(f"rate row: kinds {sorted(self.kinds)} invalid")
        if not self.uses <= set(USE_CATEGORIES) or not self.uses:
            raise ValueError(f"rate row: uses {sorted(self.uses)} invalid")
        if self.base < 0 or self.rate < 0 or (self.base == 0 and self.rate == 0):
            raise ValueError("rate row: base and rate must be non-negative and not both zero")

    def matches(self, clause_set: str, kind: str, use: str) -> bool:
        return clause_set in self.clause_sets and kind in self.kinds and use in self.uses


def _check_rows(name: str, rows: tuple[RateRow, ...]) -> None:
    seen: set[tuple[str, str, str]] = set()
    for row in rows:
        for key in itertools.product(sorted(row.clause_sets), sorted(row.kinds), sorted(row.uses)):
            if key in seen:
                raise ValueError(f"{name}: two rows price {'/'.join(key)}")
            seen.add(key)


@dataclass(frozen=True)
class RiderRate:
    """A rider's pure-premium figure(s): rate (× amount, × days × daily), factor (× parent), by_option."""

    code: str
    rate: Decimal | None = None
    factor: Decimal | None = None
    by_option: Mapping[str, Decimal] = field(default_factory=dict)  # option -> factor / premium / price

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_option", readonly_mapping(self.by_option))
        figures = [x for x in (self.rate, self.factor, *self.by_option.values()) if x is not None]
        if any(x <= 0 for x in figures):
            raise ValueError(f"rider {self.code}: figures must be positive")


@dataclass(frozen=True)
class PurePremiums:
    """基准纯风险保费 (II.3). The shipped figures are DEMO (demo=True): an insurer files its own."""

    damage: tuple[RateRow, ...]
    third_party: tuple[RateRow, ...]
    third_party_limit_factors: Mapping[Decimal, Decimal]
    driver: tuple[RateRow, ...]
    passenger: tuple[RateRow, ...]
    riders: Mapping[str, RiderRate]
    source: str = ""
    confirmed: bool = False
    demo: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "third_party_limit_factors", MappingProxyType(dict(self.third_party_limit_factors))
        )
        object.__setattr__(self, "riders", readonly_mapping(self.riders))
        if self.demo and self.confirmed:
            raise ValueError("pure premiums: demo figures cannot be confirmed")
        for name in ("damage", "third_party", "driver", "passenger"):
            _check_rows(name, getattr(self, name))
        factors = sorted(self.third_party_limit_factors.items())
        if not factors or any(f <= 0 for _, f in factors):
            raise ValueError("third_party limit factors must be positive")
        for (_, lo), (_, hi) in itertools.pairwise(factors):
            if hi < lo:
                raise ValueError("third_party limit factors must not fall as the limit rises")
        for key, rider in self.riders.items():
            if key != rider.code:
                raise ValueError(f"rider rate key {key!r} does not match {rider.code!r}")

    def row(self, coverage: str, clause_set: str, kind: str, use: str) -> RateRow | None:
        rows: tuple[RateRow, ...] = getattr(self, coverage)
        return next((r for r in rows if r.matches(clause_set, kind, use)), None)


@dataclass(frozen=True)
class DepreciationRow:
    kinds: frozenset[str]
    monthly: Mapping[str, Decimal | None]  # use -> monthly rate (0.006 = 0.6 %), None = not applicable

    def __post_init__(self) -> None:
        object.__setattr__(self, "monthly", readonly_mapping(self.monthly))
        if not self.kinds or not self.kinds <= set(VEHICLE_KINDS):
            raise ValueError(f"depreciation row: kinds {sorted(self.kinds)} invalid")
        if set(self.monthly) != set(USE_CATEGORIES):
            raise ValueError(f"depreciation row: give a rate (or null) for each of {USE_CATEGORIES}")
        if any(r is not None and not ZERO < r < Decimal("0.1") for r in self.monthly.values()):
            raise ValueError("depreciation row: monthly rates must be in (0, 0.1)")


@dataclass(frozen=True)
class DepreciationTable:
    """参考折旧系数表 (II.3): monthly rates by kind × use, total capped (80 % of 新车购置价)."""

    rows: tuple[DepreciationRow, ...]
    cap: Decimal
    source: str = ""
    confirmed: bool = False

    def __post_init__(self) -> None:
        if not ZERO < self.cap < ONE:
            raise ValueError("depreciation cap must be in (0, 1)")
        seen: set[str] = set()
        for row in self.rows:
            if row.kinds & seen:
                raise ValueError(f"depreciation: kinds {sorted(row.kinds & seen)} in two rows")
            seen |= row.kinds
        if seen != set(VEHICLE_KINDS):
            raise ValueError(f"depreciation: no row for {sorted(set(VEHICLE_KINDS) - seen)}")

    def monthly_rate(self, kind: str, use: str) -> Decimal | None:
        for row in self.rows:
            if kind in row.kinds:
                return row.monthly.get(use)
        return None


@dataclass(frozen=True)
class NcdScheme:
    """无赔款优待系数 by level (II.3): contiguous levels, level 0 = 1.0, never falling as the level rises."""

    code: str
    name_zh: str
    coefficients: Mapping[int, Decimal]
    unconfirmed_levels: frozenset[int] = frozenset()  # figures found in no source at all
    source: str = ""
    confirmed: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "coefficients", MappingProxyType(dict(self.coefficients)))
        levels = sorted(self.coefficients)
        if not levels or levels != list(range(levels[0], levels[-1] + 1)):
            raise ValueError(f"NCD {self.code}: levels must be contiguous")
        if self.coefficients.get(0) != ONE:
            raise ValueError(f"NCD {self.code}: level 0 must be 1.0")
        for lo, hi in itertools.pairwise(levels):
            if self.coefficients[hi] < self.coefficients[lo] or self.coefficients[lo] <= 0:
                raise ValueError(f"NCD {self.code}: coefficients must be positive and never fall")
        if not self.unconfirmed_levels <= set(levels):
            raise ValueError(f"NCD {self.code}: unconfirmed_levels not in the table")
        if self.confirmed and self.unconfirmed_levels:
            raise ValueError(f"NCD {self.code}: a confirmed scheme cannot have unconfirmed levels")

    @property
    def lowest(self) -> int:
        return min(self.coefficients)

    @property
    def highest(self) -> int:
        return max(self.coefficients)


@dataclass(frozen=True)
class CoefficientRange:
    """An allowed range [low, high] of a coefficient from a date (effective_to inclusive, None = open)."""

    effective_from: date
    low: Decimal
    high: Decimal
    effective_to: date | None = None
    source: str = ""
    confirmed: bool = False

    def __post_init__(self) -> None:
        if not ZERO < self.low <= self.high:
            raise ValueError(f"coefficient range {self.low}–{self.high} invalid")
        if self.effective_to is not None and self.effective_to < self.effective_from:
            raise ValueError(f"coefficient range ends {self.effective_to} before it starts")

    def covers(self, on: date) -> bool:
        return self.effective_from <= on and (self.effective_to is None or on <= self.effective_to)

    def contains(self, value: Decimal) -> bool:
        return self.low <= value <= self.high


def _check_ranges(name: str, ranges: tuple[CoefficientRange, ...]) -> None:
    if not ranges:
        return
    if ranges[-1].effective_to is not None:
        raise ValueError(f"{name}: the last range must be open-ended")
    for prev, nxt in itertools.pairwise(ranges):
        if prev.effective_to is None or (nxt.effective_from - prev.effective_to).days != 1:
            raise ValueError(f"{name}: ranges must follow each other day by day, sorted, without overlap")


@dataclass(frozen=True)
class RegionRates:
    """A region's 附加费用率, NCD scheme and coefficient ranges (code 'default' = the national default)."""

    code: str
    name_zh: str
    expense_loading: Decimal
    ncd_scheme: str
    pricing_ranges: tuple[CoefficientRange, ...]
    traffic_ranges: tuple[CoefficientRange, ...] = ()  # empty: no 交通违法系数 in this region
    source: str = ""
    confirmed: bool = False

    def __post_init__(self) -> None:
        if not ZERO <= self.expense_loading < ONE:
            raise ValueError(f"region {self.code}: expense loading must be in [0, 1)")
        if not self.pricing_ranges:
            raise ValueError(f"region {self.code}: no 自主定价系数 range")
        _check_ranges(f"region {self.code} pricing", self.pricing_ranges)
        _check_ranges(f"region {self.code} traffic", self.traffic_ranges)

    def pricing_range(self, on: date) -> CoefficientRange | None:
        return next((r for r in self.pricing_ranges if r.covers(on)), None)

    def traffic_range(self, on: date) -> CoefficientRange | None:
        return next((r for r in self.traffic_ranges if r.covers(on)), None)


@dataclass(frozen=True)
class CommercialRates:
    """commercial_rates.yaml, the version effective on one date."""

    version: TableVersion
    loading_cap: Decimal  # 附加费用率 ceiling (25 % since 2020-09-19)
    pure: PurePremiums
    depreciation: DepreciationTable
    ncd_schemes: Mapping[str, NcdScheme]
    regions: Mapping[str, RegionRates]
    demo: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "ncd_schemes", readonly_mapping(self.ncd_schemes))
        object.__setattr__(self, "regions", readonly_mapping(self.regions))
        if DEFAULT_REGION not in self.regions:
            raise ValueError("rates: no 'default' region")
        if not self.demo and self.pure.demo:
            raise ValueError("rates: a version with demo pure premiums must be marked demo")
        if self.version.confirmed and (self.demo or not self.pure.confirmed):
            raise ValueError("rates: a confirmed version cannot hold demo or unconfirmed pure premiums")
        for key, scheme in self.ncd_schemes.items():
            if key != scheme.code:
                raise ValueError(f"NCD scheme key {key!r} does not match {scheme.code!r}")
        for key, region in self.regions.items():
            if key != region.code:
                raise ValueError(f"region key {key!r} does not match {region.code!r}")
            if region.ncd_scheme not in self.ncd_schemes:
                raise ValueError(f"region {key}: unknown NCD scheme {region.ncd_scheme!r}")
            if region.expense_loading > self.loading_cap:
                raise ValueError(f"region {key}: expense loading above the cap {self.loading_cap}")

    def region_for(self, region_code: str) -> RegionRates:
        """The region's own entry, its city's, its province's, else the national default."""
        for code in region_lookup_codes(region_code):
            if code in self.regions:
                return self.regions[code]
        return self.regions[DEFAULT_REGION]


@dataclass(frozen=True)
class CommercialTables:
    """Everything commercial_quote needs, each file being the version effective on the quote date."""

    catalogue: CoverageCatalogue
    rates: CommercialRates
    region_names: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "region_names", readonly_mapping(self.region_names))
        check_rates_cover_catalogue(self.catalogue, self.rates.pure)

    @property
    def versions(self) -> tuple[str, ...]:
        return (self.catalogue.version.label, self.rates.version.label)

    def unconfirmed(self) -> tuple[str, ...]:
        """Every unconfirmed or demo table, entry and figure in these tables (used or not)."""
        items: list[str] = []
        for version in (self.catalogue.version, self.rates.version):
            if not version.confirmed:
                items.append(f"table {version.name}@{version.effective_from}: unconfirmed")
        if self.rates.demo:
            items.append(f"table {self.rates.version.name}: demo figures")
        for cs in self.catalogue.clause_sets.values():
            if not cs.confirmed:
                items.append(f"clause set {cs.code}: unconfirmed")
        for item in self.catalogue.entries():
            if not item.confirmed:
                items.append(f"coverage {item.code}: unconfirmed")
        items.extend(_pure_flags(self.rates.pure))
        if not self.rates.depreciation.confirmed:
            items.append("depreciation table: unconfirmed")
        for scheme in self.rates.ncd_schemes.values():
            items.extend(_ncd_flags(scheme, None))
        for region in self.rates.regions.values():
            if not region.confirmed:
                items.append(f"region {region.code} loading: unconfirmed")
            for r in (*region.pricing_ranges, *region.traffic_ranges):
                if not r.confirmed:
                    items.append(f"region {region.code} range from {r.effective_from}: unconfirmed")
        return tuple(dict.fromkeys(items))

    @property
    def confirmed(self) -> bool:
        return not self.unconfirmed()


def _pure_flags(pure: PurePremiums) -> list[str]:
    flags = []
    if pure.demo:
        flags.append("pure premiums: demo figures")
    if not pure.confirmed:
        flags.append("pure premiums: unconfirmed")
    return flags


def _ncd_flags(scheme: NcdScheme, level: int | None) -> list[str]:
    flags = []
    if not scheme.confirmed:
        flags.append(f"NCD scheme {scheme.code}: unconfirmed")
    levels = scheme.unconfirmed_levels if level is None else scheme.unconfirmed_levels & {level}
    flags.extend(
        f"NCD {scheme.code} level {lv:+d} = {scheme.coefficients[lv]}: in no source" for lv in levels
    )
    return flags


def check_rates_cover_catalogue(catalogue: CoverageCatalogue, pure: PurePremiums) -> None:
    """Every limit option and every rider option of the catalogue has its figure in the rate table."""
    tp = catalogue.coverages.get("third_party")
    if tp is not None:
        missing = [str(a) for a in tp.amount_options if a not in pure.third_party_limit_factors]
        if missing:
            raise ValueError(f"third_party: no limit factor for {missing}")
    for code in ("damage", "third_party", "driver", "passenger"):
        if code not in catalogue.coverages:
            raise ValueError(f"catalogue: main coverage {code!r} missing")
    expected_bases = {"damage": "actual_value", "third_party": "limit", "driver": "limit"}
    expected_bases["passenger"] = "per_seat_limit"
    for code, basis in expected_bases.items():
        if catalogue.coverages[code].basis != basis:
            raise ValueError(f"catalogue: {code} must have basis {basis}")
    unknown = set(pure.riders) - set(catalogue.riders)
    if unknown:
        raise ValueError(f"rider rates for riders not in the catalogue: {sorted(unknown)}")
    for rider in catalogue.riders.values():
        rate = pure.riders.get(rider.code)
        if rate is None:
            raise ValueError(f"rider {rider.code}: no rate")
        need: set[str]
        if rider.basis == "parent_discount":
            need = {"by_option"} if rider.rate_options else {"factor"}
        elif rider.basis == "parent_share":
            need = {"factor"}
        elif rider.basis in ("amount_rate", "days_daily"):
            need = {"rate"}
        else:
            need = {"by_option"}
        have = {n for n in ("rate", "factor") if getattr(rate, n) is not None}
        if rate.by_option:
            have.add("by_option")
        if have != need:
            raise ValueError(f"rider {rider.code} ({rider.basis}): give exactly {sorted(need)}")
        if rider.basis == "parent_discount" and rider.rate_options:
            keys = {_key(r) for r in rider.rate_options}
        elif rider.basis == "amount_table":
            keys = {_key(a) for a in rider.amount_options}
        elif rider.basis == "services":
            keys = set(rider.services)
        else:
            keys = set()
        if keys and set(rate.by_option) != keys:
            raise ValueError(f"rider {rider.code}: by_option must give exactly {sorted(keys)}")
        if rider.basis == "parent_discount" and any(
            v >= ONE for v in (rate.factor, *rate.by_option.values()) if v
        ):
            raise ValueError(f"rider {rider.code}: a discount factor must be below 1")


def _key(amount: Decimal) -> str:
    """The table key of an option: '0.10' -> '0.1', '2000' -> '2000' (normalised, no exponent)."""
    text = format(amount.normalize(), "f")
    return text


# ================================================================================ input


@dataclass(frozen=True, kw_only=True)
class Vehicle:
    """The facts the commercial premium depends on. Give first_registered, or invoice_date for a new car."""

    kind: str
    use: str
    energy: str
    seats: int
    purchase_price: Decimal  # 新车购置价, CNY
    first_registered: date | None = None
    invoice_date: date | None = None


@dataclass(frozen=True, kw_only=True)
class CoverageRequest:
    """One requested coverage or rider. Which fields apply depends on the item (docs/commercial-cover.md).

    amount: 三者/驾驶人 limit, 乘客 per-seat limit, a rider's sum insured or limit; seats: insured
    passenger seats; rate: 绝对免赔率; days / daily_amount: 修理期间费用补偿; services: service -> times;
    parent: the main coverage a per-parent rider attaches to. 车损's sum insured is computed, never given.
    """

    code: str
    parent: str | None = None
    amount: Decimal | None = None
    seats: int | None = None
    rate: Decimal | None = None
    days: int | None = None
    daily_amount: Decimal | None = None
    services: Mapping[str, int] | None = None

    def given(self) -> set[str]:
        names = ("parent", "amount", "seats", "rate", "days", "daily_amount", "services")
        return {n for n in names if getattr(self, n) is not None}


@dataclass(frozen=True, kw_only=True)
class CommercialInput:
    vehicle: Vehicle
    start: date  # 起保日期
    region_code: str
    coverages: tuple[CoverageRequest, ...]
    ncd_level: int
    pricing_coefficient: Decimal  # 自主定价系数
    traffic_coefficient: Decimal | None = None  # 交通违法系数, only where the region uses one


# =============================================================================== output


@dataclass(frozen=True)
class ActualValue:
    """实际价值 = 新车购置价 − 折旧, 折旧 = 购置价 × 已使用整月数 × 月折旧率, at most cap × 购置价 (II.3)."""

    purchase_price: Decimal
    months: int
    monthly_rate: Decimal
    depreciation: Decimal
    capped: bool
    value: Decimal


@dataclass(frozen=True)
class QuoteLine:
    code: str
    name_zh: str
    is_rider: bool
    parent: str | None
    amount: Decimal | None  # sum insured or limit (passenger: per seat)
    seats: int | None
    deductible_rate: Decimal | None
    pure_premium: Decimal  # 基准纯风险保费, to the fen (shown only)
    base_premium: Decimal  # 基准保费, to the fen (shown only)
    premium: Decimal  # final, to the fen


@dataclass(frozen=True)
class CommercialQuote:
    clause_set: str
    clause_set_name_zh: str
    region_code: str  # the rate entry used: a 6-digit code or 'default'
    region_name_zh: str
    start: date
    actual_value: ActualValue | None  # when 车损 is quoted
    lines: tuple[QuoteLine, ...]
    expense_loading: Decimal
    ncd_level: int
    ncd_coefficient: Decimal
    pricing_coefficient: Decimal
    traffic_coefficient: Decimal | None  # None: the region has no 交通违法系数
    total: Decimal
    table_versions: tuple[str, ...]
    unconfirmed: tuple[str, ...]

    @property
    def confirmed(self) -> bool:
        return not self.unconfirmed


# =============================================================================== errors


class Errors:
    """Collects every bad field, then raises one validation_error listing them all (like life `Reader`)."""

    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []

    def add(self, field_name: str, code: str, message_zh: str) -> None:
        self.items.append({"field": field_name, "code": code, "message": message_zh})

    def raise_if_any(self) -> None:
        if self.items:
            raise ApplicationError(
                "validation_error",
                f"投保信息有 {len(self.items)} 处需要修改，请按提示逐项修改后重新报价。",
                {"errors": list(self.items)},
            )


def _yuan(amount: Decimal) -> str:
    return f"{amount:,.0f}元" if amount == amount.to_integral_value() else f"{amount:,.2f}元"


def _decimal_ok(value: object) -> bool:
    return isinstance(value, Decimal) and value.is_finite()


# ======================================================================= pure functions


def months_in_use(since: date, on: date) -> int:
    """Whole months from since to on; a part-month is not counted (1-31 → 2-28 is 0, → 3-1 is 1)."""
    months = (on.year - since.year) * 12 + (on.month - since.month)
    if on.day < since.day:
        months -= 1
    return max(months, 0)


def actual_value(vehicle: Vehicle, start: date, table: DepreciationTable) -> ActualValue:
    """实际价值 of the vehicle at the start of cover, to the fen (II.3; ValueError on an unknown kind/use)."""
    since = vehicle.first_registered or vehicle.invoice_date
    if since is None:
        raise ValueError("a vehicle needs first_registered or invoice_date")
    rate = table.monthly_rate(vehicle.kind, vehicle.use)
    if rate is None:
        raise ValueError(f"no depreciation rate for {vehicle.kind}/{vehicle.use}")
    months = months_in_use(since, start)
    raw = vehicle.purchase_price * months * rate
    ceiling = vehicle.purchase_price * table.cap
    capped = raw > ceiling
    depreciation = to_fen(ceiling if capped else raw)
    return ActualValue(
        purchase_price=vehicle.purchase_price,
        months=months,
        monthly_rate=rate,
        depreciation=depreciation,
        capped=capped,
        value=vehicle.purchase_price - depreciation,
    )


def clause_set_for(vehicle: Vehicle, start: date, catalogue: CoverageCatalogue) -> ClauseSet | None:
    """The clause set for a vehicle on a date: the latest one admitting it (NEV clauses for an NEV car
    from 2021-12-27, unless it is a motorcycle, tractor or special vehicle; else the 2020 clauses)."""
    eligible = [cs for cs in catalogue.clause_sets.values() if cs.admits(vehicle.kind, vehicle.energy, start)]
    return max(eligible, key=lambda cs: cs.effective_from, default=None)


def ncd_level(
    claim_free_years: int,
    claims_last_year: int,
    lapse_months: int = 0,
    *,
    new_or_transferred: bool = False,
    lowest: int = -4,
    highest: int = 5,
) -> int:
    """NCD level from the claims record (II.3, secondary source): claims − consecutive claim-free years.

    claim_free_years counts consecutive insured years without a claim, ending last year; it must be 0
    when there was a claim last year. A new or transferred car is level 0; a lapse of more than 6 months
    resets to 0; a lapse of 3–6 months keeps only an upward move (the level is at least 0). The result is
    clamped to the region's levels (−4…+5 national, −5…+5 北京/厦门). Gathering the record is the caller's.
    """
    errors = Errors()
    if claim_free_years < 0:
        errors.add("claim_free_years", "ncd_history_invalid", "连续未出险年数不能为负数。")
    if claims_last_year < 0:
        errors.add("claims_last_year", "ncd_history_invalid", "上年出险次数不能为负数。")
    if lapse_months < 0:
        errors.add("lapse_months", "ncd_history_invalid", "脱保月数不能为负数。")
    if claims_last_year > 0 and claim_free_years > 0:
        errors.add("claim_free_years", "ncd_history_invalid", "上年有出险记录时，连续未出险年数应为 0。")
    if lowest > 0 or highest < 0:
        raise ValueError("the levels must include 0")
    errors.raise_if_any()
    if new_or_transferred or lapse_months > 6:
        return 0
    level = max(lowest, min(highest, claims_last_year - claim_free_years))
    if lapse_months >= 3:
        level = max(level, 0)
    return level


# ==================================================================== checking the input


@dataclass
class _Checked:
    """What validation resolved, handed to pricing."""

    clause_set: ClauseSet
    region: RegionRates
    ncd: NcdScheme
    pricing_range: CoefficientRange
    traffic_range: CoefficientRange | None
    traffic: Decimal | None
    value: ActualValue | None
    items: list[tuple[CoverageRequest, MainCoverage | Rider, str | None]]  # request, item, parent


def _check_vehicle(v: Vehicle, start: date, tables: CommercialTables, errors: Errors) -> bool:
    ok = True
    for name, value, allowed, label in (
        ("kind", v.kind, KIND_NAMES, "车辆种类"),
        ("use", v.use, USE_NAMES, "使用性质"),
        (
            "energy",
            v.energy,
            {"fuel": "燃油", "bev": "纯电动", "phev": "插电式混合动力", "fcev": "燃料电池"},
            "能源种类",
        ),
    ):
        if value not in allowed:
            errors.add(
                f"vehicle.{name}", "invalid_choice", f"{label}不正确，可选：{'、'.join(allowed.values())}。"
            )
            ok = False
    if isinstance(v.seats, bool) or not isinstance(v.seats, int) or not 1 <= v.seats <= 99:
        errors.add("vehicle.seats", "seats_invalid", "核定载客数须为 1 至 99 的整数。")
        ok = False
    elif v.kind == "passenger_small" and v.seats > 9:
        errors.add(
            "vehicle.seats", "seats_kind_mismatch", "核定载客 10 人及以上的客车，请选择“10座及以上客车”。"
        )
        ok = False
    elif v.kind == "passenger_large" and v.seats < 10:
        errors.add(
            "vehicle.seats", "seats_kind_mismatch", "核定载客 9 人及以下的客车，请选择“9座及以下客车”。"
        )
        ok = False
    if not _decimal_ok(v.purchase_price) or v.purchase_price <= 0 or v.purchase_price > Decimal("100000000"):
        errors.add("vehicle.purchase_price", "purchase_price_invalid", "新车购置价须为大于 0 的金额（元）。")
        ok = False
    since = v.first_registered or v.invoice_date
    if since is None:
        errors.add(
            "vehicle.first_registered",
            "registration_date_missing",
            "请填写初次登记日期；未上牌的新车请填写购车发票日期。",
        )
        ok = False
    elif since > start:
        errors.add(
            "vehicle.first_registered" if v.first_registered else "vehicle.invoice_date",
            "start_before_registration",
            "起保日期不能早于初次登记日期（或购车发票日期）。",
        )
        ok = False
    if (
        v.kind in KIND_NAMES
        and v.use in USE_NAMES
        and tables.rates.depreciation.monthly_rate(v.kind, v.use) is None
    ):
        errors.add(
            "vehicle.use",
            "use_not_allowed_for_kind",
            f"{KIND_NAMES[v.kind]}不能按“{USE_NAMES[v.use]}”投保，请核对使用性质。",
        )
        ok = False
    return ok


def _check_coefficients(
    inp: CommercialInput, region: RegionRates, ncd: NcdScheme, errors: Errors
) -> tuple[CoefficientRange | None, CoefficientRange | None, Decimal | None]:
    pricing_range = region.pricing_range(inp.start)
    if pricing_range is None:
        raise ApplicationError(
            "rate_table_missing",
            f"{inp.start.isoformat()} 没有适用的自主定价系数范围（{region.name_zh}），请联系保险公司。",
            {"table": "commercial_rates", "region": region.code, "on": inp.start.isoformat()},
        )
    k = inp.pricing_coefficient
    if not _decimal_ok(k) or not pricing_range.contains(k):
        errors.add(
            "pricing_coefficient",
            "pricing_coefficient_out_of_range",
            f"自主定价系数须在 {pricing_range.low} 至 {pricing_range.high} 之间（{region.name_zh}）。",
        )
    level = inp.ncd_level
    if isinstance(level, bool) or not isinstance(level, int) or level not in ncd.coefficients:
        errors.add(
            "ncd_level",
            "ncd_level_out_of_range",
            f"无赔款优待等级须为 {ncd.lowest} 至 {ncd.highest} 的整数（{region.name_zh}）。",
        )
    traffic_range = region.traffic_range(inp.start)
    t = inp.traffic_coefficient
    if traffic_range is None:
        if t is not None:
            errors.add(
                "traffic_coefficient",
                "traffic_coefficient_not_used",
                f"{region.name_zh}不使用交通违法系数，请不要填写。",
            )
        return pricing_range, None, None
    if t is None:
        t = ONE  # no violation record given: the neutral coefficient
        if not traffic_range.contains(t):
            errors.add("traffic_coefficient", "param_missing", f"请填写交通违法系数（{region.name_zh}）。")
    elif not _decimal_ok(t) or not traffic_range.contains(t):
        errors.add(
            "traffic_coefficient",
            "traffic_coefficient_out_of_range",
            f"交通违法系数须在 {traffic_range.low} 至 {traffic_range.high} 之间（{region.name_zh}）。",
        )
    return pricing_range, traffic_range, t


def _check_amount(
    prefix: str,
    name: str,
    value: Decimal | None,
    options: tuple[Decimal, ...],
    errors: Errors,
    label: str,
    lo: Decimal | None = None,
    hi: Decimal | None = None,
) -> None:
    if value is None:
        errors.add(f"{prefix}.{name}", "param_missing", f"请选择{label}。")
    elif not _decimal_ok(value):
        errors.add(f"{prefix}.{name}", "amount_out_of_range", f"{label}须为金额（元）。")
    elif options and value not in options:
        listed = "、".join(_yuan(a) for a in options)
        errors.add(f"{prefix}.{name}", "limit_not_offered", f"{label}不在可选范围内，可选：{listed}。")
    elif lo is not None and hi is not None and not lo <= value <= hi:
        errors.add(
            f"{prefix}.{name}", "amount_out_of_range", f"{label}须在 {_yuan(lo)} 至 {_yuan(hi)} 之间。"
        )


def _check_params(
    prefix: str, name: str, req: CoverageRequest, item: MainCoverage | Rider, v: Vehicle, errors: Errors
) -> None:
    extra = req.given() - _PARAMS[item.basis]
    for param in sorted(extra):
        errors.add(f"{prefix}.{param}", "param_not_allowed", f"“{name}”不需要填写此项。")
    if isinstance(item, MainCoverage):
        if item.basis == "limit":
            label = "每次事故责任限额" if item.code == "third_party" else "驾驶人每次事故责任限额"
            _check_amount(prefix, "amount", req.amount, item.amount_options, errors, label)
        elif item.basis == "per_seat_limit":
            _check_amount(prefix, "amount", req.amount, item.amount_options, errors, "乘客每人责任限额")
            seats = req.seats
            if seats is None or isinstance(seats, bool) or not isinstance(seats, int) or seats < 1:
                errors.add(f"{prefix}.seats", "param_missing", "请填写投保乘客座位数（至少 1 座）。")
            elif isinstance(v.seats, int) and seats > v.seats - 1:
                errors.add(
                    f"{prefix}.seats",
                    "passenger_seats_exceeded",
                    f"投保乘客座位数不能超过核定载客数减驾驶座（{max(v.seats - 1, 0)} 座）。",
                )
        return
    if item.basis == "parent_discount" and item.rate_options:
        if req.rate is None:
            errors.add(f"{prefix}.rate", "param_missing", "请选择绝对免赔率。")
        elif not _decimal_ok(req.rate) or req.rate not in item.rate_options:
            listed = "、".join(f"{(r * 100).normalize():f}%" for r in item.rate_options)
            errors.add(f"{prefix}.rate", "rate_not_offered", f"绝对免赔率不在可选范围内，可选：{listed}。")
    elif item.basis in ("amount_rate", "amount_table"):
        _check_amount(
            prefix,
            "amount",
            req.amount,
            item.amount_options,
            errors,
            f"“{name}”的保险金额/责任限额",
            item.amount_min,
            item.amount_max,
        )
    elif item.basis == "days_daily":
        days = req.days
        if days is None or isinstance(days, bool) or not isinstance(days, int):
            errors.add(f"{prefix}.days", "param_missing", "请填写补偿天数。")
        elif not 1 <= days <= (item.max_days or 0):
            errors.add(f"{prefix}.days", "days_out_of_range", f"补偿天数须为 1 至 {item.max_days} 天。")
        _check_amount(prefix, "daily_amount", req.daily_amount, item.daily_options, errors, "日补偿金额")
    elif item.basis == "services":
        services = req.services
        if not services:
            errors.add(f"{prefix}.services", "param_missing", "请至少选择一项增值服务。")
            return
        for code, times in services.items():
            if code not in item.services:
                listed = "、".join(item.services.values())
                errors.add(f"{prefix}.services.{code}", "invalid_choice", f"服务项目不正确，可选：{listed}。")
            elif (
                isinstance(times, bool)
                or not isinstance(times, int)
                or not 1 <= times <= (item.max_times or 0)
            ):
                errors.add(
                    f"{prefix}.services.{code}",
                    "times_out_of_range",
                    f"“{item.services[code]}”次数须为 1 至 {item.max_times} 次。",
                )


def _check_coverages(
    inp: CommercialInput, tables: CommercialTables, clause_set: ClauseSet | None, errors: Errors
) -> list[tuple[CoverageRequest, MainCoverage | Rider, str | None]]:
    cat = tables.catalogue
    v = inp.vehicle
    if not inp.coverages:
        errors.add("coverages", "no_coverage", "请至少选择一项主险。")
        return []
    mains = {r.code for r in inp.coverages if r.code in cat.coverages}
    if not mains:
        errors.add("coverages", "main_coverage_required", "附加险须随主险投保，请至少选择一项主险。")
    resolved: list[tuple[CoverageRequest, MainCoverage | Rider, str | None]] = []
    seen: set[tuple[str, str | None]] = set()
    for i, req in enumerate(inp.coverages):
        prefix = f"coverages[{i}]"
        item = cat.item(req.code)
        if item is None:
            errors.add(f"{prefix}.code", "coverage_unknown", f"没有“{req.code}”这一险种，请重新选择。")
            continue
        name = item.names.get(clause_set.code if clause_set else "", next(iter(item.names.values())))
        if clause_set is not None and clause_set.code not in item.clause_sets:
            if (
                isinstance(item, Rider)
                and item.clause_sets == {"nev2021"}
                and v.energy not in NEV_ENERGY_TYPES
            ):
                errors.add(f"{prefix}.code", "rider_nev_only", f"“{name}”仅适用于新能源汽车。")
            else:
                errors.add(
                    f"{prefix}.code",
                    "coverage_not_in_clause_set",
                    f"“{name}”不属于该车适用的《{clause_set.name_zh}》，请重新选择。",
                )
            continue
        parent: str | None = None
        if isinstance(item, Rider):
            parent = req.parent
            if parent is not None and parent not in item.attaches_to:
                allowed = "、".join(
                    cat.coverages[p].names.get(clause_set.code if clause_set else "", p)
                    for p in item.attaches_to
                )
                errors.add(f"{prefix}.parent", "rider_parent_invalid", f"“{name}”只能附加于：{allowed}。")
                continue
            if parent is None and len(item.attaches_to) == 1:
                parent = item.attaches_to[0]
            if parent is None and item.per_parent:
                errors.add(f"{prefix}.parent", "param_missing", f"请选择“{name}”附加的主险。")
                continue
            parents = (parent,) if parent is not None else item.attaches_to
            if not any(p in mains for p in parents):
                names = "或".join(
                    f"“{cat.coverages[p].names.get(clause_set.code if clause_set else '', p)}”"
                    for p in parents
                )
                errors.add(f"{prefix}.code", "rider_parent_missing", f"“{name}”须同时投保{names}。")
            if item.family_only and v.use != "family_private":
                errors.add(f"{prefix}.code", "family_car_only", f"“{name}”仅适用于家庭自用汽车。")
        key = (req.code, parent if isinstance(item, Rider) and item.per_parent else None)
        if key in seen:
            errors.add(f"{prefix}.code", "coverage_duplicate", f"“{name}”重复选择，请只保留一项。")
            continue
        seen.add(key)
        _check_params(prefix, name, req, item, v, errors)
        resolved.append((req, item, parent))
    return resolved


def _check(inp: CommercialInput, tables: CommercialTables) -> _Checked:
    for version in (tables.catalogue.version, tables.rates.version):
        if not version.covers(inp.start):
            raise ApplicationError(
                "rate_table_missing",
                f"{inp.start.isoformat()} 没有适用的商业车险费率表（{version.name}），请联系保险公司。",
                {"table": version.name, "on": inp.start.isoformat(), "loaded": version.label},
            )
    errors = Errors()
    try:
        region = tables.rates.region_for(inp.region_code)
    except ApplicationError:
        errors.add(
            "region_code", "invalid_region_code", "地区代码不正确，请填写 6 位行政区划代码（如北京 110000）。"
        )
        region = tables.rates.regions[DEFAULT_REGION]
    vehicle_ok = _check_vehicle(inp.vehicle, inp.start, tables, errors)
    clause_set = None
    if inp.vehicle.kind in KIND_NAMES and inp.vehicle.energy in ENERGY_TYPES:
        clause_set = clause_set_for(inp.vehicle, inp.start, tables.catalogue)
        if clause_set is None:
            raise ApplicationError(
                "quote_not_available",
                "该车辆在起保日期没有适用的商业车险条款，暂不支持线上报价，请联系客服。",
                {"kind": inp.vehicle.kind, "energy": inp.vehicle.energy, "on": inp.start.isoformat()},
            )
    ncd = tables.rates.ncd_schemes[region.ncd_scheme]
    pricing_range, traffic_range, traffic = _check_coefficients(inp, region, ncd, errors)
    items = _check_coverages(inp, tables, clause_set, errors)
    errors.raise_if_any()
    assert clause_set is not None and pricing_range is not None and vehicle_ok
    wants_value = any(item.code == "damage" for _, item, _ in items)
    value = actual_value(inp.vehicle, inp.start, tables.rates.depreciation) if wants_value else None
    return _Checked(clause_set, region, ncd, pricing_range, traffic_range, traffic, value, items)


# ================================================================================ pricing


def _no_rate(code: str, c: _Checked, v: Vehicle) -> ApplicationError:
    return ApplicationError(
        "quote_not_available",
        f"“{code}”没有适用于{KIND_NAMES.get(v.kind, v.kind)}（{USE_NAMES.get(v.use, v.use)}）的费率，"
        "暂不支持线上报价，请联系客服。",
        {"coverage": code, "clause_set": c.clause_set.code, "kind": v.kind, "use": v.use},
    )


def _main_pure(
    req: CoverageRequest, item: MainCoverage, c: _Checked, v: Vehicle, pure: PurePremiums
) -> Decimal:
    row = pure.row(item.code, c.clause_set.code, v.kind, v.use)
    if row is None:
        raise _no_rate(item.code, c, v)
    if item.code == "damage":
        assert c.value is not None
        return row.base + row.rate * c.value.value
    assert req.amount is not None
    if item.code == "third_party":
        return row.base * pure.third_party_limit_factors[req.amount]
    if item.basis == "per_seat_limit":
        assert req.seats is not None
        return (row.base + row.rate * req.amount) * req.seats
    return row.base + row.rate * req.amount


def _rider_pure(req: CoverageRequest, item: Rider, rate: RiderRate, parent_pure: Decimal | None) -> Decimal:
    if item.basis == "parent_discount":
        factor = rate.by_option[_key(req.rate)] if req.rate is not None else rate.factor
        assert factor is not None and parent_pure is not None
        return -factor * parent_pure
    if item.basis == "parent_share":
        assert rate.factor is not None and parent_pure is not None
        return rate.factor * parent_pure
    if item.basis == "amount_rate":
        assert rate.rate is not None and req.amount is not None
        return rate.rate * req.amount
    if item.basis == "amount_table":
        assert req.amount is not None
        return rate.by_option[_key(req.amount)]
    if item.basis == "days_daily":
        assert rate.rate is not None and req.days is not None and req.daily_amount is not None
        return rate.rate * req.days * req.daily_amount
    assert req.services is not None
    return sum((rate.by_option[s] * n for s, n in req.services.items()), ZERO)


def commercial_quote(inp: CommercialInput, tables: CommercialTables) -> CommercialQuote:
    """商业车险 premium per line and in total (§3, II.1–II.3); every bad field is reported at once.

    Line premium = to_fen(纯风险保费 ÷ (1 − 附加费用率) × NCD × 自主定价系数 × 交通违法系数): one rounding
    per line, from unrounded figures. A discount rider (绝对免赔率, 发动机进水损坏除外) is shown as its own
    negative line, worked out so that parent + its discounts = to_fen(parent × (1 − Σ factors)).
    """
    c = _check(inp, tables)
    v = inp.vehicle
    pure = tables.rates.pure
    cs = c.clause_set.code
    ncd = c.ncd.coefficients[inp.ncd_level]
    multiplier = ncd * inp.pricing_coefficient * (c.traffic if c.traffic is not None else ONE)
    divisor = ONE - c.region.expense_loading

    order = {
        code: i for i, code in enumerate(itertools.chain(tables.catalogue.coverages, tables.catalogue.riders))
    }
    main_order = list(tables.catalogue.coverages)
    items = sorted(
        c.items,
        key=lambda t: (
            isinstance(t[1], Rider),
            main_order.index(t[2]) if t[2] in main_order else len(main_order),
            order[t[1].code],
        ),
    )
    main_pure: dict[str, Decimal] = {}
    main_req: dict[str, CoverageRequest] = {}
    for req, item, _ in items:
        if isinstance(item, MainCoverage):
            main_pure[item.code] = _main_pure(req, item, c, v, pure)
            main_req[item.code] = req

    deductible: dict[str, Decimal] = {}
    for req, item, parent in items:
        if isinstance(item, Rider) and item.basis == "parent_discount" and req.rate is not None and parent:
            deductible[parent] = req.rate

    lines: list[QuoteLine] = []
    discounted: dict[str, Decimal] = {}  # parent -> Σ discount factors so far
    for req, item, parent in items:
        name = item.names[cs]
        amount: Decimal | None
        seats: int | None = None
        if isinstance(item, MainCoverage):
            p = main_pure[item.code]
            premium = to_fen(p / divisor * multiplier)
            amount = c.value.value if item.code == "damage" and c.value else req.amount
            seats = req.seats
            lines.append(
                QuoteLine(
                    item.code,
                    name,
                    False,
                    None,
                    amount,
                    seats,
                    deductible.get(item.code),
                    to_fen(p),
                    to_fen(p / divisor),
                    premium,
                )
            )
            continue
        rate = pure.riders[item.code]
        parent_pure = main_pure.get(parent) if parent else None
        p = _rider_pure(req, item, rate, parent_pure)
        if item.basis == "parent_discount":
            assert parent is not None and parent_pure is not None
            factor = -p / parent_pure
            before = discounted.get(parent, ZERO)
            after = before + factor
            discounted[parent] = after
            full = parent_pure / divisor * multiplier
            premium = to_fen(full * (ONE - after)) - to_fen(full * (ONE - before))
        else:
            premium = to_fen(p / divisor * multiplier)
        if item.basis in ("amount_rate", "amount_table"):
            amount = req.amount
        elif item.basis == "days_daily":
            assert req.days is not None and req.daily_amount is not None
            amount = req.daily_amount * req.days
        elif item.code == "holiday_double" and parent:
            amount = main_req[parent].amount  # 节假日 the limit is doubled: the insured limit is shown
        else:
            amount = None
        lines.append(
            QuoteLine(
                item.code,
                name,
                True,
                parent,
                amount,
                seats,
                req.rate,
                to_fen(p),
                to_fen(p / divisor),
                premium,
            )
        )

    return CommercialQuote(
        clause_set=cs,
        clause_set_name_zh=c.clause_set.name_zh,
        region_code=c.region.code,
        region_name_zh=_region_display(inp.region_code, c.region, tables.region_names),
        start=inp.start,
        actual_value=c.value,
        lines=tuple(lines),
        expense_loading=c.region.expense_loading,
        ncd_level=inp.ncd_level,
        ncd_coefficient=ncd,
        pricing_coefficient=inp.pricing_coefficient,
        traffic_coefficient=c.traffic,
        total=sum((line.premium for line in lines), ZERO),
        table_versions=tables.versions,
        unconfirmed=_used_unconfirmed(inp, c, tables, items),
    )


def _region_display(region_code: str, region: RegionRates, names: Mapping[str, str]) -> str:
    if region.code != DEFAULT_REGION:
        return region.name_zh
    known = region_name(region_code, names)
    return f"{known}（{region.name_zh}）" if known else region.name_zh


def _used_unconfirmed(
    inp: CommercialInput,
    c: _Checked,
    tables: CommercialTables,
    items: list[tuple[CoverageRequest, MainCoverage | Rider, str | None]],
) -> tuple[str, ...]:
    flags: list[str] = []
    for version in (tables.catalogue.version, tables.rates.version):
        if not version.confirmed:
            flags.append(f"table {version.label}: unconfirmed")
    if tables.rates.demo:
        flags.append(f"table {tables.rates.version.name}: demo figures")
    if not c.clause_set.confirmed:
        flags.append(f"clause set {c.clause_set.code}: unconfirmed")
    flags.extend(f"coverage {item.code}: unconfirmed" for _, item, _ in items if not item.confirmed)
    flags.extend(_pure_flags(tables.rates.pure))
    if c.value is not None and not tables.rates.depreciation.confirmed:
        flags.append("depreciation table: unconfirmed")
    if not c.region.confirmed:
        flags.append(f"region {c.region.code} loading: unconfirmed")
    flags.extend(_ncd_flags(c.ncd, inp.ncd_level))
    if not c.pricing_range.confirmed:
        flags.append(
            f"region {c.region.code} 自主定价系数 range from {c.pricing_range.effective_from}: unconfirmed"
        )
    if c.traffic_range is not None and not c.traffic_range.confirmed:
        flags.append(
            f"region {c.region.code} 交通违法系数 range from {c.traffic_range.effective_from}: unconfirmed"
        )
    return tuple(dict.fromkeys(flags))
