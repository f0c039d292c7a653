"""A motor quote: the products an application buys (交强险 with the 车船税 it collects, 商业险 with its
coverages), each priced from the effective-dated tables of the catalogue on the date its cover starts."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, cast

from django.conf import settings

from epolicy.common.errors import ApplicationError
from epolicy.common.money import to_fen
from epolicy.common.providers import get_provider
from epolicy.products.commercial_tables import load_commercial_tables
from epolicy.products.motor_products import MotorCatalogue, motor_catalogue
from epolicy.products.tables import load_ctpl_tables, load_vehicle_tax_table
from epolicy.rules.motor.commercial import (
    CommercialInput,
    CommercialQuote,
    CoverageRequest,
    Vehicle,
    commercial_quote,
    ncd_level,
)
from epolicy.rules.motor.ctpl import CtplInput, CtplQuote, ctpl_quote
from epolicy.rules.motor.vehicle_tax import VehicleTaxInput, VehicleTaxQuote, vehicle_tax

from .inputs import CoverageChoice, ProductChoice, VehicleInput
from .providers.base import ClaimHistory, ClaimsHistoryUnavailable

FLOATING_CODES = {"A1", "A2", "A3", "A4", "A5", "A6"}
ENERGY_TYPES = {"fuel", "bev", "fcev", "phev", "energy_saving"}
ZERO = Decimal("0.00")


@dataclass(frozen=True)
class MotorQuote:
    products: tuple[str, ...]
    ctpl: CtplQuote | None
    tax: VehicleTaxQuote | None  # collected with 交强险 only
    commercial: CommercialQuote | None
    claim_history: ClaimHistory | None
    period_start: dt.date
    period_end: dt.date
    trip_days: int | None = None  # 单程提车: a short term priced from the annual premiums
    # The coverages as asked for (kept with the application: a mid-term coverage change requotes them).
    commercial_requests: tuple[CoverageChoice, ...] = ()

    @property
    def base_premium(self) -> Decimal:
        return self.ctpl.base_premium if self.ctpl else ZERO

    @property
    def floating_code(self) -> str | None:
        return self.ctpl.floating_code if self.ctpl else None

    @property
    def floating_rate(self) -> Decimal:
        return self.ctpl.floating_rate if self.ctpl else Decimal(0)

    def premium_of(self, product: str) -> Decimal:
        """The product's premium for the term: the annual one, or for a 单程提车 its short-term share."""
        catalogue = motor_catalogue()
        if catalogue.product(product).kind == "ctpl":
            annual = self.ctpl.premium if self.ctpl else ZERO
            factor = catalogue.single_trip.ctpl_rate(self.trip_days) if self.trip_days else Decimal(1)
        else:
            annual = self.commercial.total if self.commercial else ZERO
            factor = catalogue.single_trip.commercial_factor(self.trip_days) if self.trip_days else Decimal(1)
        return to_fen(annual * factor)

    @property
    def premium(self) -> Decimal:
        return to_fen(sum((self.premium_of(code) for code in self.products), ZERO))

    @property
    def vehicle_tax(self) -> Decimal:
        return self.tax.amount if self.tax else ZERO

    @property
    def total_due(self) -> Decimal:
        return to_fen(self.premium + self.vehicle_tax)

    @property
    def unconfirmed(self) -> tuple[str, ...]:
        flags = self.commercial.unconfirmed if self.commercial else ()
        trip = motor_catalogue().single_trip
        if self.trip_days and not trip.confirmed:
            flags = (*flags, "single trip (单程提车) term and short-term pricing: unconfirmed")
        return flags

    def limits_json(self) -> dict[str, dict[str, str]]:
        if self.ctpl is None:
            return {}
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

    def commercial_json(self) -> dict[str, Any] | None:
        c = self.commercial
        if c is None:
            return None
        value = c.actual_value
        history = self.claim_history
        return {
            "clause_set": c.clause_set,
            "clause_set_name": c.clause_set_name_zh,
            "region": c.region_name_zh,
            "actual_value": None
            if value is None
            else {
                "purchase_price": str(value.purchase_price),
                "months": value.months,
                "monthly_rate": str(value.monthly_rate),
                "depreciation": str(value.depreciation),
                "capped": value.capped,
                "value": str(value.value),
            },
            "lines": [
                {
                    "code": line.code,
                    "name": line.name_zh,
                    "rider": line.is_rider,
                    "parent": line.parent,
                    "amount": None if line.amount is None else str(line.amount),
                    "seats": line.seats,
                    "deductible_rate": None if line.deductible_rate is None else str(line.deductible_rate),
                    "base_premium": str(line.base_premium),
                    "premium": str(line.premium),
                }
                for line in c.lines
            ],
            "expense_loading": str(c.expense_loading),
            "ncd_level": c.ncd_level,
            "ncd_coefficient": str(c.ncd_coefficient),
            "pricing_coefficient": str(c.pricing_coefficient),
            "traffic_coefficient": None if c.traffic_coefficient is None else str(c.traffic_coefficient),
            "claim_history_reference": history.reference if history else "",
            "total": str(c.total),
            "premium": str(self.premium_of("commercial")),
            "requests": [coverage_request_json(r) for r in self.commercial_requests],
            "unconfirmed": list(c.unconfirmed),
        }

    def as_json(self) -> dict[str, Any]:
        """What the application keeps of its quote (the table versions make it reproducible)."""
        data: dict[str, Any] = {"products": list(self.products), "tables": self.table_versions()}
        if self.trip_days:
            trip = motor_catalogue().single_trip
            data["single_trip"] = {
                "days": self.trip_days,
                "ctpl_rate": str(trip.ctpl_rate(self.trip_days)),
                "commercial_factor": f"{self.trip_days}/365",
                "confirmed": trip.confirmed,
            }
        if self.ctpl is not None:
            data.update(
                plan=self.ctpl.plan_code,
                region=self.ctpl.region_name_zh,
                **{"class": self.ctpl.class_name_zh},
                band=self.ctpl.band_label_zh,
                limits=self.limits_json(),
                ctpl_premium=str(self.premium_of("ctpl")),
            )
        if self.tax is not None:
            data["vehicle_tax"] = {
                "band": self.tax.band_label_zh,
                "annual_amount": str(self.tax.annual_amount),
                "months": self.tax.months,
                "exemption": self.tax.exemption,
                "reason": self.tax.reason_zh,
                "period_text": f"{self.period_start.year} 年度（{self.tax.months} 个月）",
            }
        commercial = self.commercial_json()
        if commercial is not None:
            data["commercial"] = commercial
        return data

    def table_versions(self) -> list[str]:
        versions: list[str] = []
        if self.ctpl is not None:
            versions.extend(self.ctpl.table_versions)
        if self.tax is not None:
            versions.append(self.tax.table_version)
        if self.commercial is not None:
            versions.extend(self.commercial.table_versions)
        return versions

    def as_api(self) -> dict[str, Any]:
        return {
            "products": list(self.products),
            "base_premium": str(self.base_premium),
            "floating_code": self.floating_code,
            "floating_rate": str(self.floating_rate),
            "ctpl_premium": str(self.premium_of("ctpl")) if self.ctpl else None,
            "commercial": self.commercial_json(),
            "premium": str(self.premium),
            "vehicle_tax": str(self.vehicle_tax),
            "vehicle_tax_reason": self.tax.reason_zh if self.tax else None,
            "total_due": str(self.total_due),
            "period_start": self.period_start,
            "period_end": self.period_end,
            "limits": self.limits_json(),
            "tables": self.table_versions(),
            "unconfirmed": list(self.unconfirmed),
            "single_trip_days": self.trip_days,
        }


def coverage_request_json(c: CoverageChoice) -> dict[str, Any]:
    """A coverage request as stored with the quote (only the fields given)."""
    out: dict[str, Any] = {"code": c.code}
    for name in ("parent", "seats", "days"):
        if getattr(c, name) is not None:
            out[name] = getattr(c, name)
    for name in ("amount", "rate", "daily_amount"):
        if getattr(c, name) is not None:
            out[name] = str(getattr(c, name))
    if c.services is not None:
        out["services"] = dict(c.services)
    return out


def coverage_request_of(data: dict[str, Any]) -> CoverageChoice:
    """Back from coverage_request_json."""
    return CoverageChoice(
        code=str(data["code"]),
        parent=data.get("parent"),
        amount=Decimal(data["amount"]) if data.get("amount") is not None else None,
        seats=data.get("seats"),
        rate=Decimal(data["rate"]) if data.get("rate") is not None else None,
        days=data.get("days"),
        daily_amount=Decimal(data["daily_amount"]) if data.get("daily_amount") is not None else None,
        services=data.get("services"),
    )


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


def checked_products(
    choices: tuple[ProductChoice, ...], catalogue: MotorCatalogue
) -> tuple[tuple[str, ...], ProductChoice | None]:
    """The product codes in the catalogue's order, and the commercial choice if any; coded refusals."""
    seen: dict[str, ProductChoice] = {}
    for i, choice in enumerate(choices):
        product = catalogue.product(choice.code, field=f"products[{i}].code")
        if choice.code in seen:
            raise ApplicationError(
                "validation_error", f"险种“{product.short_name_zh}”重复。", {"field": f"products[{i}].code"}
            )
        if product.kind == "ctpl" and choice.coverages:
            raise ApplicationError(
                "validation_error",
                "交强险的责任限额由法规统一规定，不能选择险别；商业险的险别请放在商业险下。",
                {"field": f"products[{i}].coverages"},
            )
        if product.kind == "commercial" and not choice.coverages:
            raise ApplicationError(
                "validation_error",
                "请至少选择一个商业险主险（机动车损失保险、第三者责任保险或车上人员责任保险）。",
                {"field": f"products[{i}].coverages"},
            )
        seen[choice.code] = choice
    if not seen:
        raise ApplicationError("validation_error", "请选择要投保的险种。", {"field": "products"})
    ordered = tuple(code for code in catalogue.products if code in seen)
    commercial = next((c for c in seen.values() if catalogue.products[c.code].kind == "commercial"), None)
    return ordered, commercial


def claim_history(*, vin: str, region_code: str, on: dt.date) -> ClaimHistory:
    try:
        return cast(Any, get_provider("claims_history")).history(vin=vin, region_code=region_code, on=on)
    except ClaimsHistoryUnavailable:
        raise ApplicationError("claims_history_unavailable") from None


def motor_quote(
    *,
    vehicle: VehicleInput,
    region_code: str,
    floating_code: str | None,
    period_start: dt.date,
    products: tuple[ProductChoice, ...] = (ProductChoice("ctpl"),),
    pricing_coefficient: Decimal | None = None,
    traffic_coefficient: Decimal | None = None,
    trip_days: int | None = None,
) -> MotorQuote:
    """Quote the chosen products on the date the cover starts: 交强险 (domain reference §1) with 车船税
    (§2, Part II.5), and 商业险 (§3, Part II.1–II.3; NCD from the claim-history provider)."""
    catalogue = motor_catalogue()
    codes, commercial_choice = checked_products(products, catalogue)
    if trip_days is not None:
        _check_trip(trip_days, vehicle, catalogue)
    if floating_code is not None and floating_code not in FLOATING_CODES:
        raise ApplicationError("validation_error", "费率浮动因子只能是 A1–A6。", {"field": "floating_code"})
    if vehicle.energy_type not in ENERGY_TYPES:
        raise ApplicationError("validation_error", "能源种类不正确。", {"field": "vehicle.energy_type"})
    group = catalogue.group_of(vehicle.use_category)
    ctpl = tax = None
    if any(catalogue.products[c].kind == "ctpl" for c in codes):
        ctpl = ctpl_quote(
            CtplInput(
                use_category=vehicle.use_category,
                seats=vehicle.seats,
                region_code=region_code,
                on=period_start,
                tonnage=vehicle.tonnage,
                displacement_cc=vehicle.displacement_cc,
                is_trailer=vehicle.is_trailer,
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
                **_tax_class(group, vehicle),
            ),
            load_vehicle_tax_table(period_start),
        )
    commercial = history = None
    if commercial_choice is not None:
        commercial, history = _commercial(
            catalogue,
            choices=products,
            vehicle=vehicle,
            region_code=region_code,
            period_start=period_start,
            choice=commercial_choice,
            pricing_coefficient=pricing_coefficient,
            traffic_coefficient=traffic_coefficient,
        )
    return MotorQuote(
        products=codes,
        ctpl=ctpl,
        tax=tax,
        commercial=commercial,
        claim_history=history,
        period_start=period_start,
        period_end=period_start + dt.timedelta(days=trip_days - 1)
        if trip_days
        else period_end_for(period_start),
        trip_days=trip_days,
        commercial_requests=commercial_choice.coverages if commercial_choice is not None else (),
    )


def _check_trip(days: int, vehicle: VehicleInput, catalogue: MotorCatalogue) -> None:
    trip = catalogue.single_trip
    if not vehicle.unregistered:
        raise ApplicationError(
            "validation_error",
            "单程提车只适用于尚未上牌的新车（临时行驶车号牌），请勾选“新车未上牌”。",
            {"field": "vehicle.unregistered"},
        )
    if not 1 <= days <= trip.max_days:
        raise ApplicationError(
            "validation_error", f"单程提车的保险期间为 1–{trip.max_days} 天。", {"field": "single_trip.days"}
        )
    if not (trip.confirmed or settings.MOTOR_ALLOW_UNCONFIRMED_RATES):
        raise ApplicationError(
            "rate_table_unconfirmed", details={"unconfirmed": ["single trip (单程提车) short-term pricing"]}
        )


def _tax_class(group: str, vehicle: VehicleInput) -> dict[str, Any]:
    """The 车船税 class of the vehicle (车船税法 税目): passenger cars up to 9 seats by displacement, buses
    by seats, trucks and special vehicles by curb weight, motorcycles, tractors outside the tax."""
    if group in ("car", "bus"):
        kind = "passenger" if vehicle.seats <= 9 else "bus"
    elif group == "truck":
        kind = "trailer" if vehicle.is_trailer else "truck"
    else:
        kind = group
    return {"vehicle_class": kind, "curb_weight_t": vehicle.curb_weight_t}


def _commercial(
    catalogue: MotorCatalogue,
    *,
    choices: tuple[ProductChoice, ...],
    vehicle: VehicleInput,
    region_code: str,
    period_start: dt.date,
    choice: ProductChoice,
    pricing_coefficient: Decimal | None,
    traffic_coefficient: Decimal | None,
) -> tuple[CommercialQuote, ClaimHistory]:
    if vehicle.new_car_price is None:
        raise ApplicationError(
            "validation_error",
            "投保商业险请填写新车购置价（车辆损失险的保险金额据此按折旧计算）。",
            {"field": "vehicle.new_car_price"},
        )
    tables = load_commercial_tables(period_start)
    catalogue.commercial_class(vehicle.use_category, seats=vehicle.seats, is_trailer=vehicle.is_trailer)
    history = claim_history(vin=vehicle.vin, region_code=region_code, on=period_start)
    scheme = tables.rates.ncd_schemes[tables.rates.region_for(region_code).ncd_scheme]
    levels = sorted(scheme.coefficients)
    level = ncd_level(
        history.claim_free_years,
        history.claims_last_year,
        history.lapse_months,
        new_or_transferred=history.new_vehicle,
        lowest=levels[0],
        highest=levels[-1],
    )
    commercial_index = next(i for i, p in enumerate(choices) if p is choice)
    try:
        quote = commercial_requote(
            vehicle=vehicle,
            region_code=region_code,
            period_start=period_start,
            coverages=choice.coverages,
            ncd_level=level,
            pricing_coefficient=pricing_coefficient,
            traffic_coefficient=traffic_coefficient,
        )
    except ApplicationError as exc:
        if exc.code == "rate_table_unconfirmed":
            raise
        raise _in_api_terms(exc, commercial_index) from None
    return quote, history


def commercial_requote(
    *,
    vehicle: VehicleInput,
    region_code: str,
    period_start: dt.date,
    coverages: tuple[CoverageChoice, ...],
    ncd_level: int,
    pricing_coefficient: Decimal | None,
    traffic_coefficient: Decimal | None,
) -> CommercialQuote:
    """The 商业险 premium of these coverages with a known NCD level: at sale (the level from the claim
    history) and for a mid-term coverage change (the level the policy was sold with)."""
    if vehicle.new_car_price is None:
        raise ApplicationError(
            "validation_error",
            "投保商业险请填写新车购置价（车辆损失险的保险金额据此按折旧计算）。",
            {"field": "vehicle.new_car_price"},
        )
    catalogue = motor_catalogue()
    tables = load_commercial_tables(period_start)
    kind, use = catalogue.commercial_class(
        vehicle.use_category, seats=vehicle.seats, is_trailer=vehicle.is_trailer
    )
    commercial_input = CommercialInput(
        vehicle=Vehicle(
            kind=kind,
            use=use,
            energy=vehicle.energy_type,
            seats=vehicle.seats,
            purchase_price=vehicle.new_car_price,
            first_registered=None if vehicle.unregistered else vehicle.registered_on,
            invoice_date=vehicle.registered_on if vehicle.unregistered else None,
        ),
        start=period_start,
        region_code=region_code,
        coverages=tuple(
            CoverageRequest(
                code=c.code,
                parent=c.parent,
                amount=c.amount,
                seats=c.seats,
                rate=c.rate,
                days=c.days,
                daily_amount=c.daily_amount,
                services=c.services,
            )
            for c in coverages
        ),
        ncd_level=ncd_level,
        pricing_coefficient=pricing_coefficient if pricing_coefficient is not None else Decimal("1.0"),
        traffic_coefficient=traffic_coefficient,
    )
    quote = commercial_quote(commercial_input, tables)
    if quote.unconfirmed and not settings.MOTOR_ALLOW_UNCONFIRMED_RATES:
        raise ApplicationError(
            "rate_table_unconfirmed",
            details={"unconfirmed": list(quote.unconfirmed)},
        )
    return quote


# The rule names its inputs its own way; the API caller (and the console form) needs its own paths.
_FIELDS = {
    "vehicle.purchase_price": "vehicle.new_car_price",
    "vehicle.first_registered": "vehicle.registered_on",
    "vehicle.invoice_date": "vehicle.registered_on",
    "vehicle.kind": "vehicle.use_category",
    "vehicle.use": "vehicle.use_category",
    "vehicle.energy": "vehicle.energy_type",
    "start": "period_start",
}


def _api_field(name: str, index: int) -> str:
    if name.startswith("coverages"):
        return f"products[{index}].{name}"
    return _FIELDS.get(name, name)


def _in_api_terms(exc: ApplicationError, index: int) -> ApplicationError:
    details = dict(exc.details)
    if isinstance(details.get("errors"), list):
        details["errors"] = [
            {**e, "field": _api_field(str(e.get("field", "")), index)} for e in details["errors"]
        ]
        details.setdefault("field", details["errors"][0]["field"] if details["errors"] else "")
    if isinstance(details.get("field"), str):
        details["field"] = _api_field(details["field"], index)
    return ApplicationError(exc.code, exc.message_zh, details)
