"""A 交强险 quote with the 车船税 collected with it, from the effective-dated tables of the catalogue."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, cast

from epolicy.common.errors import ApplicationError
from epolicy.common.money import to_fen
from epolicy.products.tables import load_ctpl_tables, load_vehicle_tax_table
from epolicy.rules.motor.ctpl import CtplInput, CtplQuote, ctpl_quote
from epolicy.rules.motor.vehicle_tax import VehicleTaxInput, VehicleTaxQuote, vehicle_tax

from .inputs import VehicleInput

FLOATING_CODES = {"A1", "A2", "A3", "A4", "A5", "A6"}


@dataclass(frozen=True)
class MotorQuote:
    ctpl: CtplQuote
    tax: VehicleTaxQuote
    period_start: dt.date
    period_end: dt.date

    @property
    def base_premium(self) -> Decimal:
        return self.ctpl.base_premium

    @property
    def floating_code(self) -> str | None:
        return self.ctpl.floating_code

    @property
    def floating_rate(self) -> Decimal:
        return self.ctpl.floating_rate

    @property
    def premium(self) -> Decimal:
        return self.ctpl.premium

    @property
    def vehicle_tax(self) -> Decimal:
        return self.tax.amount

    @property
    def total_due(self) -> Decimal:
        return to_fen(self.ctpl.premium + self.tax.amount)

    def limits_json(self) -> dict[str, dict[str, str]]:
        lim = self.ctpl.limits
        return {
            "at_fault": {
                "death_disability": str(lim.death_disability_at_fault),
                "medical": str(lim.medical_at_fault),
                "property": str(lim.property_at_fault),
                "total": str(lim.total_at_fault),
            },
            "no_fault": {
                "death_disability": str(lim.death_disability_no_fault),
                "medical": str(lim.medical_no_fault),
                "property": str(lim.property_no_fault),
                "total": str(lim.total_no_fault),
            },
        }

    def as_json(self) -> dict[str, Any]:
        """What the application keeps of its quote (the table versions make it reproducible)."""
        return {
            "plan": self.ctpl.plan_code,
            "region": self.ctpl.region_name_zh,
            "class": self.ctpl.class_name_zh,
            "band": self.ctpl.band_label_zh,
            "limits": self.limits_json(),
            "vehicle_tax": {
                "band": self.tax.band_label_zh,
                "annual_amount": str(self.tax.annual_amount),
                "months": self.tax.months,
                "exemption": self.tax.exemption,
                "reason": self.tax.reason_zh,
                "period_text": f"{self.period_start.year} 年度（{self.tax.months} 个月）",
            },
            "tables": [*self.ctpl.table_versions, self.tax.table_version],
        }

    def as_api(self) -> dict[str, Any]:
        return {
            "base_premium": str(self.base_premium),
            "floating_code": self.floating_code,
            "floating_rate": str(self.floating_rate),
            "premium": str(self.premium),
            "vehicle_tax": str(self.vehicle_tax),
            "vehicle_tax_reason": self.tax.reason_zh,
            "total_due": str(self.total_due),
            "period_start": self.period_start,
            "period_end": self.period_end,
            "limits": self.limits_json(),
            "tables": self.as_json()["tables"],
        }


def period_end_for(start: dt.date) -> dt.date:
    """A one-year term: from 0:00 of the start date to 24:00 of the day before the same date next year."""
    try:
        same_day_next_year = start.replace(year=start.year + 1)
    except ValueError:
        same_day_next_year = dt.date(start.year + 1, 3, 1)
    return same_day_next_year - dt.timedelta(days=1)


def tax_months(registered_on: dt.date, period_start: dt.date) -> int:
    """A car first registered during the tax year pays from its registration month (车船税法实施条例)."""
    if registered_on.year == period_start.year:
        return 12 - registered_on.month + 1
    return 12


def motor_quote(
    *, vehicle: VehicleInput, region_code: str, floating_code: str | None, period_start: dt.date
) -> MotorQuote:
    """Quote 交强险 (domain reference §1) and 车船税 (§2) on the date the cover starts."""
    if floating_code is not None and floating_code not in FLOATING_CODES:
        raise ApplicationError("validation_error", "费率浮动因子只能是 A1–A6。", {"field": "floating_code"})
    if vehicle.energy_type not in {"fuel", "bev", "fcev", "phev", "energy_saving"}:
        raise ApplicationError("validation_error", "能源种类不正确。", {"field": "vehicle.energy_type"})
    ctpl = ctpl_quote(
        CtplInput(
            use_category=vehicle.use_category,
            seats=vehicle.seats,
            region_code=region_code,
            on=period_start,
            floating_code=cast(Any, floating_code),
        ),
        load_ctpl_tables(period_start),
    )
    tax = vehicle_tax(
        VehicleTaxInput(
            region_code=region_code,
            energy_type=cast(Any, vehicle.energy_type),
            displacement_l=vehicle.displacement_l,
            seats=vehicle.seats,
            months=tax_months(vehicle.registered_on, period_start),
        ),
        load_vehicle_tax_table(period_start),
    )
    return MotorQuote(ctpl=ctpl, tax=tax, period_start=period_start, period_end=period_end_for(period_start))
