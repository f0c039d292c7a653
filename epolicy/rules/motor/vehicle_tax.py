"""车船税 (vehicle and vessel tax) collected with 交强险, for every vehicle class of the 税目税额表.

A class says how it is taxed (domain-reference §2 and II.5):
- 乘用车 (≤ 9 seats): per vehicle, by displacement band (each band includes its upper bound);
- 商用客车 (> 9 seats, incl. 电车): per vehicle, two bands, < 20 and ≥ 20 seats (实施条例 第三条);
- 货车 (incl. 半挂牵引车, 三轮汽车, 低速货车) and 其他车辆 (专用作业车, 轮式专用机械车): per ton of 整备质量;
- 挂车: a share (50 %) of the 货车 amount per ton;
- 摩托车: per vehicle;
- 拖拉机: outside the tax.
Every regional amount lies inside the national range of its item (checked when the table is built); a
relief for new-energy and energy-saving vehicles applies per class and energy type while it is in force
(effective-dated data); the annual amount is then prorated by the months covered (实施条例 第十九条).
No Django imports.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal, cast, get_args

from epolicy.common.errors import ApplicationError
from epolicy.common.money import to_fen
from epolicy.rules.motor.ctpl import (
    TableVersion,
    readonly_mapping,
    region_label,
    region_lookup_codes,
    region_name,
)

EnergyType = Literal["fuel", "bev", "fcev", "phev", "energy_saving"]
ENERGY_TYPES: tuple[EnergyType, ...] = get_args(EnergyType)

VehicleClass = Literal["passenger", "bus", "truck", "trailer", "special", "motorcycle", "tractor"]
VEHICLE_CLASSES: tuple[VehicleClass, ...] = get_args(VehicleClass)

# How a class is taxed: displacement and seats choose a band (per vehicle); curb_weight is per ton of
# 整备质量; vehicle is one amount per vehicle; outside means the class is not taxed at all.
Basis = Literal["displacement", "seats", "curb_weight", "vehicle", "outside"]
BASES: tuple[Basis, ...] = get_args(Basis)

Exemption = Literal["out_of_scope", "exempt", "half"]
EXEMPTIONS: tuple[Exemption, ...] = get_args(Exemption)
_FACTORS: dict[Exemption, Decimal] = {
    "out_of_scope": Decimal(0),
    "exempt": Decimal(0),
    "half": Decimal("0.5"),
}

# Codes this rule raises beyond the common ones, to be merged into epolicy.common.errors.CODES and
# docs/errors.md (as LIFE_CODES is): code -> (HTTP status, default Chinese message).
VEHICLE_TAX_CODES: dict[str, tuple[int, str]] = {
    "vehicle_tax_class_unknown": (
        422,
        "车辆类别不正确，无法计算车船税。请选择乘用车、客车、货车、挂车、专用作业车或轮式专用机械车、摩托车、拖拉机之一。",
    ),
    "vehicle_tax_curb_weight_required": (
        422,
        "该类车辆按整备质量计征车船税，请填写行驶证上的整备质量（吨）。",
    ),
}


@dataclass(frozen=True)
class TaxBand:
    """One amount a province sets (an item of the 税目税额表 or one of its bands) and its national range.

    The amount is per vehicle, or per ton for a curb-weight class. A displacement band is (lower_l,
    upper_l] litres (lower None = from zero, upper None = open-ended); a seat band is [min_seats,
    max_seats] (max None = open-ended).
    """

    code: str
    label_zh: str
    national_min: Decimal
    national_max: Decimal
    lower_l: Decimal | None = None
    upper_l: Decimal | None = None
    min_seats: int | None = None
    max_seats: int | None = None

    def __post_init__(self) -> None:
        if not Decimal(0) <= self.national_min <= self.national_max:
            raise ValueError(
                f"band {self.code}: national range {self.national_min}–{self.national_max} invalid"
            )

    def contains(self, displacement_l: Decimal) -> bool:
        above = displacement_l > (self.lower_l if self.lower_l is not None else Decimal(0))
        below = self.upper_l is None or displacement_l <= self.upper_l
        return above and below

    def holds_seats(self, seats: int) -> bool:
        return (self.min_seats or 0) <= seats and (self.max_seats is None or seats <= self.max_seats)


@dataclass(frozen=True)
class VehicleClassRule:
    """How one vehicle class is taxed: its basis, its bands (items) with national ranges, seat limits.

    A derived class (挂车) has no amounts of its own: it pays `factor` × the amount of `derived_from`.
    """

    code: str
    name_zh: str
    basis: Basis
    bands: tuple[TaxBand, ...] = ()
    derived_from: str | None = None
    factor: Decimal = Decimal(1)
    reason_zh: str | None = None  # outside: why the class is not taxed
    min_seats: int | None = None
    max_seats: int | None = None

    def __post_init__(self) -> None:
        where = f"class {self.code}"
        if self.basis not in BASES:
            raise ValueError(f"{where}: unknown basis {self.basis!r}")
        if self.basis == "outside":
            if self.bands or self.derived_from or not self.reason_zh:
                raise ValueError(f"{where}: a class outside the tax has no bands and needs reason_zh")
            return
        if self.derived_from is not None:
            if self.bands:
                raise ValueError(f"{where}: a derived class has no bands of its own")
            if not Decimal(0) < self.factor <= Decimal(1):
                raise ValueError(f"{where}: factor {self.factor} must be in (0, 1]")
            return
        if self.factor != Decimal(1):
            raise ValueError(f"{where}: only a derived class has a factor")
        if not self.bands:
            raise ValueError(f"{where}: no bands")
        if len({b.code for b in self.bands}) != len(self.bands):
            raise ValueError(f"{where}: duplicate band codes")
        if self.basis == "displacement":
            first, last = self.bands[0], self.bands[-1]
            if first.lower_l not in (None, Decimal(0)) or last.upper_l is not None:
                raise ValueError(f"{where}: bands must start at 0 and end open-ended")
            for prev, nxt in itertools.pairwise(self.bands):
                if prev.upper_l is None or nxt.lower_l != prev.upper_l:
                    raise ValueError(f"{where}: bands {prev.code} and {nxt.code} are not contiguous")
        elif self.basis == "seats":
            if self.min_seats is None or self.bands[0].min_seats != self.min_seats:
                raise ValueError(f"{where}: seat bands must start at the class's min_seats")
            if self.bands[-1].max_seats is not None:
                raise ValueError(f"{where}: the last seat band must be open-ended")
            for prev, nxt in itertools.pairwise(self.bands):
                if prev.max_seats is None or nxt.min_seats != prev.max_seats + 1:
                    raise ValueError(f"{where}: bands {prev.code} and {nxt.code} are not contiguous")
        elif len(self.bands) != 1:
            raise ValueError(f"{where}: a {self.basis} class has exactly one band")

    @property
    def unit(self) -> Literal["vehicle", "ton"]:
        return "ton" if self.basis == "curb_weight" else "vehicle"


@dataclass(frozen=True)
class ClassAmounts:
    """One region's amounts for one class (band code -> CNY per vehicle or per ton), with provenance."""

    amounts: Mapping[str, Decimal]
    source: str = ""
    confirmed: bool = True
    demo: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "amounts", readonly_mapping(self.amounts))
        if self.demo and self.confirmed:
            raise ValueError("a demo amount cannot be confirmed")


@dataclass(frozen=True)
class RegionalSchedule:
    """A province's amounts for every taxed class (set by the 省级人民政府 inside the national ranges)."""

    region_code: str
    region_name: str
    classes: Mapping[str, ClassAmounts]

    def __post_init__(self) -> None:
        object.__setattr__(self, "classes", readonly_mapping(self.classes))


@dataclass(frozen=True)
class Relief:
    """A national relief for some energy types of some classes, in force from effective_from to effective_to.

    out_of_scope and exempt pay 0, half pays 0.5. reported_end_on records an end that has been reported
    but not confirmed: a quote applying the relief on or after it is marked unconfirmed.
    """

    code: str
    treatment: Exemption
    classes: frozenset[str]
    energy_types: frozenset[str]
    reason_zh: str
    effective_from: date
    effective_to: date | None = None  # inclusive
    source: str = ""
    confirmed: bool = True
    reported_end_on: date | None = None

    def __post_init__(self) -> None:
        if self.treatment not in EXEMPTIONS:
            raise ValueError(f"relief {self.code}: unknown treatment {self.treatment!r}")
        if not self.classes or not self.energy_types or not self.reason_zh:
            raise ValueError(f"relief {self.code}: needs classes, energy_types and reason_zh")
        if self.effective_to is not None and self.effective_to < self.effective_from:
            raise ValueError(f"relief {self.code}: effective_to before effective_from")

    @property
    def factor(self) -> Decimal:
        return _FACTORS[self.treatment]

    def covers(self, on: date) -> bool:
        return self.effective_from <= on and (self.effective_to is None or on <= self.effective_to)

    def overlaps(self, other: Relief) -> bool:
        ends_before = self.effective_to is not None and self.effective_to < other.effective_from
        starts_after = other.effective_to is not None and other.effective_to < self.effective_from
        return not (ends_before or starts_after)


@dataclass(frozen=True)
class TonnageRule:
    """How the curb weight is counted: as recorded (places None) or rounded half-up to `places` decimals."""

    places: int | None = None
    source: str = ""
    confirmed: bool = False

    def __post_init__(self) -> None:
        if self.places is not None and not 0 <= self.places <= 3:
            raise ValueError("tonnage places must be between 0 and 3")

    def count(self, curb_weight_t: Decimal) -> Decimal:
        if self.places is None:
            return curb_weight_t
        return curb_weight_t.quantize(Decimal(1).scaleb(-self.places), rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class VehicleTaxTable:
    """Classes with their national ranges, regional schedules, reliefs and the tonnage rule of one version.

    Construction refuses a regional amount outside its national range, amounts not rising with the band
    (实施条例 第三条), an incomplete schedule, unknown classes or energy types in a relief and reliefs
    overlapping in time for the same class and energy type: a table that exists is a table that is
    lawful. `as_of` is the date the loader chose it for; reliefs are applied as in force on that date.
    """

    version: TableVersion
    classes: Mapping[str, VehicleClassRule]
    schedules: Mapping[str, RegionalSchedule]
    reliefs: tuple[Relief, ...] = ()
    tonnage: TonnageRule = field(default_factory=TonnageRule)
    region_names: Mapping[str, str] = field(default_factory=dict)
    as_of: date | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "classes", readonly_mapping(self.classes))
        object.__setattr__(self, "schedules", readonly_mapping(self.schedules))
        object.__setattr__(self, "region_names", readonly_mapping(self.region_names))
        missing = set(VEHICLE_CLASSES) - set(self.classes)
        unknown = set(self.classes) - set(VEHICLE_CLASSES)
        if missing or unknown:
            raise ValueError(f"classes missing {sorted(missing)}, unknown {sorted(unknown)}")
        for code, rule in self.classes.items():
            if code != rule.code:
                raise ValueError(f"class key {code} does not match class {rule.code}")
            if rule.derived_from is not None:
                base = self.classes.get(rule.derived_from)
                if base is None or base.derived_from is not None or base.basis != rule.basis:
                    raise ValueError(f"class {code}: derived_from must name a {rule.basis} class with bands")
        if self.classes["passenger"].basis != "displacement" or self.classes["passenger"].max_seats is None:
            raise ValueError("class passenger: basis displacement with max_seats")
        if self.classes["bus"].basis != "seats" or self.classes["bus"].min_seats is None:
            raise ValueError("class bus: basis seats with min_seats")
        for key, schedule in self.schedules.items():
            self._check_schedule(key, schedule)
        for relief in self.reliefs:
            bad_classes = relief.classes - set(VEHICLE_CLASSES)
            bad_types = relief.energy_types - set(ENERGY_TYPES)
            if bad_classes or bad_types:
                raise ValueError(
                    f"relief {relief.code}: unknown classes {sorted(bad_classes)}, "
                    f"energy types {sorted(bad_types)}"
                )
        for a, b in itertools.combinations(self.reliefs, 2):
            if a.classes & b.classes and a.energy_types & b.energy_types and a.overlaps(b):
                raise ValueError(
                    f"reliefs {a.code} and {b.code} both apply to {sorted(a.classes & b.classes)} × "
                    f"{sorted(a.energy_types & b.energy_types)} at the same time"
                )

    def _check_schedule(self, key: str, schedule: RegionalSchedule) -> None:
        if key != schedule.region_code:
            raise ValueError(f"schedule key {key} does not match region {schedule.region_code}")
        taxed = {c for c, r in self.classes.items() if r.basis != "outside" and r.derived_from is None}
        if set(schedule.classes) != taxed:
            missing = sorted(taxed - set(schedule.classes))
            extra = sorted(set(schedule.classes) - taxed)
            raise ValueError(f"schedule {key}: classes missing {missing}, unknown {extra}")
        for code in sorted(taxed):
            rule, part = self.classes[code], schedule.classes[code]
            codes = [b.code for b in rule.bands]
            if set(part.amounts) != set(codes):
                missing = sorted(set(codes) - set(part.amounts))
                extra = sorted(set(part.amounts) - set(codes))
                raise ValueError(f"schedule {key} class {code}: bands missing {missing}, unknown {extra}")
            for band in rule.bands:
                amount = part.amounts[band.code]
                if not band.national_min <= amount <= band.national_max:
                    raise ValueError(
                        f"schedule {key} ({schedule.region_name}) class {code} band {band.code}: {amount} "
                        f"outside the national range {band.national_min}–{band.national_max}"
                    )
            if rule.basis in ("displacement", "seats"):
                for prev, nxt in itertools.pairwise(rule.bands):
                    if not part.amounts[prev.code] < part.amounts[nxt.code]:
                        raise ValueError(
                            f"schedule {key} class {code}: {nxt.code} must be more than {prev.code} "
                            "(实施条例 第三条: amounts rise with the band)"
                        )

    @property
    def bands(self) -> tuple[TaxBand, ...]:
        """The 乘用车 displacement bands."""
        return self.classes["passenger"].bands

    def band_for(self, displacement_l: Decimal) -> TaxBand:
        for band in self.bands:
            if band.contains(displacement_l):
                return band
        raise ValueError(f"no band for {displacement_l}")  # unreachable: bands are contiguous from 0

    def seat_band_for(self, seats: int) -> TaxBand:
        for band in self.classes["bus"].bands:
            if band.holds_seats(seats):
                return band
        raise ValueError(f"no seat band for {seats}")  # unreachable once seats ≥ min_seats

    def schedule_for(self, region_code: str) -> RegionalSchedule | None:
        for code in region_lookup_codes(region_code):
            if code in self.schedules:
                return self.schedules[code]
        return None

    def relief_for(self, vehicle_class: str, energy_type: str) -> Relief | None:
        """The relief in force on `as_of` (else on the version's first day) for this class and energy type."""
        on = self.as_of or self.version.effective_from
        for relief in self.reliefs:
            if vehicle_class in relief.classes and energy_type in relief.energy_types and relief.covers(on):
                return relief
        return None


@dataclass(frozen=True, kw_only=True)
class VehicleTaxInput:
    region_code: str
    energy_type: EnergyType
    displacement_l: Decimal = Decimal(0)  # litres; 乘用车 only
    seats: int | None = None  # 核定载客人数; required for 乘用车 and 客车
    months: int = 12  # months of the tax year the policy covers
    vehicle_class: str = "passenger"  # one of VEHICLE_CLASSES
    curb_weight_t: Decimal | None = None  # 整备质量 in tonnes, as on the 行驶证; required per ton


@dataclass(frozen=True)
class VehicleTaxQuote:
    region_code: str  # the schedule's region (e.g. 440000 for 440300), or the input code when none was needed
    region_name_zh: str | None
    energy_type: EnergyType
    band_code: str | None
    band_label_zh: str | None
    schedule_amount: Decimal | None  # annual amount of the regional schedule before any NEV treatment
    annual_amount: Decimal  # after the NEV treatment
    amount: Decimal  # annual_amount × months / 12, to the fen
    months: int
    exemption: Exemption | None
    reason_zh: str | None
    confirmed: bool
    demo: bool
    table_version: str
    vehicle_class: VehicleClass = "passenger"
    class_name_zh: str = "乘用车"
    unit: Literal["vehicle", "ton"] = "vehicle"
    rate: Decimal | None = None  # the regional amount per vehicle or per ton (a 挂车's after its factor)
    tonnage_t: Decimal | None = None  # the curb weight counted, per-ton classes only
    national_min: Decimal | None = None  # the national range of the annual amount before any relief
    national_max: Decimal | None = None
    relief_code: str | None = None


def _invalid(field_name: str, message_zh: str, value: object) -> ApplicationError:
    return ApplicationError("validation_error", message_zh, {"field": field_name, "value": str(value)})


def _check_class(inp: VehicleTaxInput, table: VehicleTaxTable) -> VehicleClassRule:
    if inp.vehicle_class not in VEHICLE_CLASSES:
        raise ApplicationError(
            "vehicle_tax_class_unknown",
            VEHICLE_TAX_CODES["vehicle_tax_class_unknown"][1],
            {"field": "vehicle_class", "value": str(inp.vehicle_class), "allowed": list(VEHICLE_CLASSES)},
        )
    return table.classes[inp.vehicle_class]


def _validate(inp: VehicleTaxInput, rule: VehicleClassRule, needs_schedule: bool) -> None:
    if not 1 <= inp.months <= 12:
        raise _invalid("months", "车船税计税月份须为 1 至 12 个月。", inp.months)
    if inp.displacement_l < 0:
        raise _invalid("displacement_l", "排气量不能为负数。", inp.displacement_l)
    if inp.seats is not None and inp.seats < 0:
        raise _invalid("seats", "核定载客人数不能为负数。", inp.seats)
    if rule.basis in ("displacement", "seats") and (inp.seats is None or inp.seats < 1):
        raise _invalid("seats", "核定载客人数须为正整数。", inp.seats)
    seats = inp.seats or 0
    if rule.max_seats is not None and seats > rule.max_seats:
        raise _invalid(
            "vehicle_class",
            f"核定载客人数超过 {rule.max_seats} 人的载客汽车属于商用客车，请将车辆类别选为“客车”。",
            inp.vehicle_class,
        )
    if rule.min_seats is not None and seats < rule.min_seats:
        raise _invalid(
            "vehicle_class",
            f"核定载客人数不超过 {rule.min_seats - 1} 人的载客汽车属于乘用车，请将车辆类别选为“乘用车”。",
            inp.vehicle_class,
        )
    if rule.basis == "displacement" and needs_schedule and inp.displacement_l == 0:
        raise _invalid("displacement_l", "燃油汽车和节能汽车须填写排气量（升）。", inp.displacement_l)
    if rule.basis == "curb_weight":
        if inp.curb_weight_t is None:
            raise ApplicationError(
                "vehicle_tax_curb_weight_required",
                f"{rule.name_zh}按整备质量计征车船税，请填写行驶证上的整备质量（吨）。",
                {"field": "curb_weight_t", "vehicle_class": rule.code},
            )
        weight = inp.curb_weight_t
        # The 行驶证 records 整备质量 in kilograms (实施条例 第六条): a finer figure is a typing error.
        if not weight.is_finite() or weight <= 0 or weight % Decimal("0.001") != 0:
            raise _invalid(
                "curb_weight_t",
                "整备质量须为正数（吨，最多三位小数，即精确到千克），请按行驶证填写。",
                weight,
            )


def vehicle_tax(inp: VehicleTaxInput, table: VehicleTaxTable) -> VehicleTaxQuote:
    """车船税 of one vehicle: class and band, regional amount (× tonnage), relief, months/12 (§2, II.5)."""
    rule = _check_class(inp, table)
    if inp.energy_type not in ENERGY_TYPES:
        raise _invalid("energy_type", "能源类型不正确。", inp.energy_type)
    region_lookup_codes(inp.region_code)  # validates the format even when no schedule is needed
    relief = table.relief_for(rule.code, inp.energy_type) if rule.basis != "outside" else None
    # A class outside the tax, out of scope and exempt are national rules: no regional schedule is needed
    # to say "0".
    needs_schedule = rule.basis != "outside" and (relief is None or relief.treatment == "half")
    _validate(inp, rule, needs_schedule)
    schedule = table.schedule_for(inp.region_code)
    own_region = schedule.region_code if schedule is not None else inp.region_code
    own_name = (
        schedule.region_name if schedule is not None else region_name(inp.region_code, table.region_names)
    )

    if rule.basis == "outside":
        return VehicleTaxQuote(
            region_code=own_region,
            region_name_zh=own_name,
            energy_type=inp.energy_type,
            band_code=None,
            band_label_zh=None,
            schedule_amount=None,
            annual_amount=to_fen(0),
            amount=to_fen(0),
            months=inp.months,
            exemption="out_of_scope",
            reason_zh=rule.reason_zh,
            confirmed=table.version.confirmed,
            demo=False,
            table_version=table.version.label,
            vehicle_class=cast(VehicleClass, rule.code),
            class_name_zh=rule.name_zh,
            unit=rule.unit,
        )

    if schedule is None and needs_schedule:
        label = region_label(inp.region_code, table.region_names)
        raise ApplicationError(
            "quote_not_available",
            f"地区 {label} 暂未配置车船税税额标准，暂不支持线上代收车船税，请联系客服。",
            {"region_code": inp.region_code, "table": table.version.label},
        )

    base = table.classes[rule.derived_from] if rule.derived_from is not None else rule
    band: TaxBand | None
    if rule.basis == "displacement":
        band = table.band_for(inp.displacement_l) if inp.displacement_l > 0 else None
    elif rule.basis == "seats":
        band = table.seat_band_for(inp.seats or 0)
    else:
        band = base.bands[0]

    tonnage = table.tonnage.count(inp.curb_weight_t) if inp.curb_weight_t is not None else None
    units = tonnage if rule.unit == "ton" and tonnage is not None else Decimal(1)
    part = schedule.classes[base.code] if schedule is not None else None
    rate = schedule_amount = national_min = national_max = None
    if band is not None:
        national_min = to_fen(band.national_min * rule.factor * units)
        national_max = to_fen(band.national_max * rule.factor * units)
    if part is not None and band is not None:
        rate = part.amounts[band.code] * rule.factor
        schedule_amount = to_fen(rate * units)

    factor = relief.factor if relief is not None else Decimal(1)
    annual = to_fen(schedule_amount * factor) if schedule_amount is not None else to_fen(0)
    # Multiply before dividing so that whole-yuan amounts over whole months stay exact where they can.
    amount = to_fen(annual * inp.months / Decimal(12))

    used = part if schedule_amount is not None else None
    on = table.as_of or table.version.effective_from
    confirmed = (
        table.version.confirmed
        and (used is None or used.confirmed)
        and (rule.unit != "ton" or used is None or table.tonnage.confirmed)
        and (relief is None or relief.confirmed)
        and (relief is None or relief.reported_end_on is None or on < relief.reported_end_on)
    )
    return VehicleTaxQuote(
        region_code=own_region,
        region_name_zh=own_name,
        energy_type=inp.energy_type,
        band_code=band.code if band is not None else None,
        band_label_zh=band.label_zh if band is not None else None,
        schedule_amount=schedule_amount,
        annual_amount=annual,
        amount=amount,
        months=inp.months,
        exemption=relief.treatment if relief is not None else None,
        reason_zh=relief.reason_zh if relief is not None else None,
        confirmed=confirmed,
        demo=used is not None and used.demo,
        table_version=table.version.label,
        vehicle_class=cast(VehicleClass, rule.code),
        class_name_zh=rule.name_zh,
        unit=rule.unit,
        rate=rate,
        tonnage_t=tonnage if rule.unit == "ton" else None,
        national_min=national_min,
        national_max=national_max,
        relief_code=relief.code if relief is not None else None,
    )
