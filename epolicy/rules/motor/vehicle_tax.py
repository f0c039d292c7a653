"""车船税 (vehicle and vessel tax) collected with 交强险: passenger cars with 9 seats or fewer.

The annual amount comes from the region's schedule for the displacement band (each band includes its
upper bound), must lie inside the national range of the 车船税法 (domain-reference §2), and is then
treated by energy type (NEV out of scope / exempt / half) and prorated by the months covered.
No Django imports.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal, get_args

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

Exemption = Literal["out_of_scope", "exempt", "half"]
Treatment = Literal["full", "out_of_scope", "exempt", "half"]
TREATMENTS: tuple[Treatment, ...] = get_args(Treatment)
_EXEMPTION: dict[Treatment, Exemption | None] = {
    "full": None,
    "out_of_scope": "out_of_scope",
    "exempt": "exempt",
    "half": "half",
}


@dataclass(frozen=True)
class TaxBand:
    """A displacement band (lower, upper], litres; lower None = from zero, upper None = open-ended."""

    code: str
    label_zh: str
    national_min: Decimal
    national_max: Decimal
    lower_l: Decimal | None = None
    upper_l: Decimal | None = None

    def __post_init__(self) -> None:
        if not Decimal(0) <= self.national_min <= self.national_max:
            raise ValueError(
                f"band {self.code}: national range {self.national_min}–{self.national_max} invalid"
            )

    def contains(self, displacement_l: Decimal) -> bool:
        above = displacement_l > (self.lower_l if self.lower_l is not None else Decimal(0))
        below = self.upper_l is None or displacement_l <= self.upper_l
        return above and below


@dataclass(frozen=True)
class RegionalSchedule:
    """A province's annual amounts per band (set by the 省级人民政府 inside the national ranges)."""

    region_code: str
    region_name: str
    amounts: Mapping[str, Decimal]  # band code -> annual amount, CNY
    source: str = ""
    confirmed: bool = True
    demo: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "amounts", readonly_mapping(self.amounts))


@dataclass(frozen=True)
class EnergyTreatment:
    """How an energy type is taxed: full, out of scope (0), exempt (0) or half (factor 0.5)."""

    energy_type: str
    treatment: Treatment
    factor: Decimal
    reason_zh: str | None = None

    def __post_init__(self) -> None:
        if self.treatment not in TREATMENTS:
            raise ValueError(f"{self.energy_type}: unknown treatment {self.treatment!r}")
        expected = {"full": Decimal(1), "out_of_scope": Decimal(0), "exempt": Decimal(0)}.get(self.treatment)
        if expected is not None and self.factor != expected:
            raise ValueError(f"{self.energy_type}: treatment {self.treatment} must have factor {expected}")
        if self.treatment == "half" and self.factor != Decimal("0.5"):
            raise ValueError(f"{self.energy_type}: treatment half must have factor 0.5")
        if self.treatment != "full" and not self.reason_zh:
            raise ValueError(f"{self.energy_type}: a reduced treatment needs reason_zh")


@dataclass(frozen=True)
class VehicleTaxTable:
    """National bands and ranges, regional schedules and NEV treatments, as effective on one date.

    Construction refuses a regional amount outside the national range, an incomplete schedule,
    gaps between bands and missing energy types: a table that exists is a table that is lawful.
    """

    version: TableVersion
    bands: tuple[TaxBand, ...]
    schedules: Mapping[str, RegionalSchedule]
    treatments: Mapping[str, EnergyTreatment]
    max_seats: int = 9
    region_names: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "schedules", readonly_mapping(self.schedules))
        object.__setattr__(self, "treatments", readonly_mapping(self.treatments))
        object.__setattr__(self, "region_names", readonly_mapping(self.region_names))
        if not self.bands:
            raise ValueError("no displacement bands")
        if self.bands[0].lower_l not in (None, Decimal(0)) or self.bands[-1].upper_l is not None:
            raise ValueError("bands must start at 0 and end open-ended")
        for prev, nxt in itertools.pairwise(self.bands):
            if prev.upper_l is None or nxt.lower_l != prev.upper_l:
                raise ValueError(f"bands {prev.code} and {nxt.code} are not contiguous")
        codes = {b.code for b in self.bands}
        if len(codes) != len(self.bands):
            raise ValueError("duplicate band codes")
        for key, schedule in self.schedules.items():
            if key != schedule.region_code:
                raise ValueError(f"schedule key {key} does not match region {schedule.region_code}")
            if set(schedule.amounts) != codes:
                missing = sorted(codes - set(schedule.amounts))
                extra = sorted(set(schedule.amounts) - codes)
                raise ValueError(f"schedule {key}: bands missing {missing}, unknown {extra}")
            for band in self.bands:
                amount = schedule.amounts[band.code]
                if not band.national_min <= amount <= band.national_max:
                    raise ValueError(
                        f"schedule {key} ({schedule.region_name}) band {band.code}: {amount} outside the "
                        f"national range {band.national_min}–{band.national_max}"
                    )
        missing_types = set(ENERGY_TYPES) - set(self.treatments)
        if missing_types:
            raise ValueError(f"no treatment for energy types {sorted(missing_types)}")

    def band_for(self, displacement_l: Decimal) -> TaxBand:
        for band in self.bands:
            if band.contains(displacement_l):
                return band
        raise ValueError(f"no band for {displacement_l}")  # unreachable: bands are contiguous from 0

    def schedule_for(self, region_code: str) -> RegionalSchedule | None:
        for code in region_lookup_codes(region_code):
            if code in self.schedules:
                return self.schedules[code]
        return None


@dataclass(frozen=True, kw_only=True)
class VehicleTaxInput:
    region_code: str
    energy_type: EnergyType
    displacement_l: Decimal
    seats: int
    months: int = 12  # months of the tax year the policy covers


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


def _invalid(field_name: str, message_zh: str, value: object) -> ApplicationError:
    return ApplicationError("validation_error", message_zh, {"field": field_name, "value": str(value)})


def _validate(inp: VehicleTaxInput, table: VehicleTaxTable, needs_schedule: bool) -> None:
    if not 1 <= inp.months <= 12:
        raise _invalid("months", "车船税计税月份须为 1 至 12 个月。", inp.months)
    if inp.seats < 1:
        raise _invalid("seats", "核定载客人数须为正整数。", inp.seats)
    if inp.displacement_l < 0:
        raise _invalid("displacement_l", "排气量不能为负数。", inp.displacement_l)
    if needs_schedule and inp.displacement_l == 0:
        raise _invalid("displacement_l", "燃油汽车和节能汽车须填写排气量（升）。", inp.displacement_l)
    if inp.seats > table.max_seats:
        raise ApplicationError(
            "quote_not_available",
            f"核定载客人数超过 {table.max_seats} 人的车辆暂不支持线上计算车船税，请联系客服。",
            {"seats": inp.seats, "max_seats": table.max_seats},
        )


def vehicle_tax(inp: VehicleTaxInput, table: VehicleTaxTable) -> VehicleTaxQuote:
    """车船税 for a passenger car ≤ 9 seats: regional amount for the band, NEV treatment, months/12 (§2)."""
    if inp.energy_type not in table.treatments:
        raise _invalid("energy_type", "能源类型不正确。", inp.energy_type)
    treatment = table.treatments[inp.energy_type]
    # Out of scope and exempt are national rules: no regional schedule is needed to say "0".
    needs_schedule = treatment.treatment in ("full", "half")
    _validate(inp, table, needs_schedule)
    region_lookup_codes(inp.region_code)  # validates the format even when no schedule is needed
    schedule = table.schedule_for(inp.region_code)
    band = table.band_for(inp.displacement_l) if inp.displacement_l > 0 else None

    if schedule is None and needs_schedule:
        label = region_label(inp.region_code, table.region_names)
        raise ApplicationError(
            "quote_not_available",
            f"地区 {label} 暂未配置车船税税额标准，暂不支持线上代收车船税，请联系客服。",
            {"region_code": inp.region_code, "table": table.version.label},
        )

    used = schedule if schedule is not None and band is not None else None
    schedule_amount = used.amounts[band.code] if used is not None and band is not None else None
    annual = to_fen(schedule_amount * treatment.factor) if schedule_amount is not None else to_fen(0)
    # Multiply before dividing so that whole-yuan amounts over whole months stay exact where they can.
    amount = to_fen(annual * inp.months / Decimal(12))
    return VehicleTaxQuote(
        region_code=schedule.region_code if schedule is not None else inp.region_code,
        region_name_zh=schedule.region_name
        if schedule is not None
        else region_name(inp.region_code, table.region_names),
        energy_type=inp.energy_type,
        band_code=band.code if band is not None else None,
        band_label_zh=band.label_zh if band is not None else None,
        schedule_amount=schedule_amount,
        annual_amount=annual,
        amount=amount,
        months=inp.months,
        exemption=_EXEMPTION[treatment.treatment],
        reason_zh=treatment.reason_zh,
        confirmed=table.version.confirmed and (used is None or used.confirmed),
        demo=used is not None and used.demo,
        table_version=table.version.label,
    )
