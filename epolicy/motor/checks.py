"""Checking what is submitted to open an e-application: every bad field is found in one pass and reported
together (one coded refusal listing them all), so a person or a system fixes everything at once."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from epolicy.common import clock, identifiers
from epolicy.common.email_address import validate_email
from epolicy.common.errors import ApplicationError
from epolicy.parties.models import Customer
from epolicy.products.motor_products import NEV_ENERGY, motor_catalogue

from . import display
from .inputs import ApplicationInput, PersonInput, VehicleInput
from .quote import MotorQuote, motor_quote

_T = TypeVar("_T")
MAX_DAYS_AHEAD = 90
ROLE_ZH = {"applicant": "投保人", "insured": "被保险人", "owner": "车主"}


class Problems:
    """Collects refusals. One alone is raised as it is (its own code and field); several become one
    validation_error whose details.errors lists each {field, code, message}."""

    def __init__(self) -> None:
        self.errors: list[ApplicationError] = []

    def check(self, fn: Callable[..., _T], *args: Any, **kwargs: Any) -> _T | None:
        try:
            return fn(*args, **kwargs)
        except ApplicationError as exc:
            self.errors.append(exc)
            return None

    def refuse(self, code: str, message_zh: str, field: str) -> None:
        self.errors.append(ApplicationError(code, message_zh, {"field": field}))

    def items(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for exc in self.errors:
            nested = exc.details.get("errors")
            if isinstance(nested, list):
                out.extend(nested)
            else:
                out.append(
                    {"field": exc.details.get("field", ""), "code": exc.code, "message": exc.message_zh}
                )
        return out

    def raise_if_any(self) -> None:
        if not self.errors:
            return
        if len(self.errors) == 1:
            raise self.errors[0]
        items = self.items()
        raise ApplicationError(
            "validation_error",
            f"投保信息有 {len(items)} 处需要修改："
            + "；".join(i["message"].rstrip("。") for i in items[:3])
            + ("……" if len(items) > 3 else "。"),
            {"field": items[0]["field"], "errors": items},
        )


@dataclass(frozen=True)
class CheckedApplication:
    applicant: Customer
    insured: Customer | None
    owner: Customer | None
    plate: str
    plate_kind: str
    vin: str
    engine_number: str
    brand_model: str
    form_version: str
    quote: MotorQuote
    trip_route: str = ""


def person(data: PersonInput, role: str, problems: Problems, *, contact: bool = True) -> Customer | None:
    zh = ROLE_ZH[role]
    before = len(problems.errors)
    id_type = data.id_type or "resident_id"
    organisation = id_type in identifiers.ORGANISATION_ID_TYPES
    name = (data.name or "").strip()
    longest = 100 if organisation else 30
    if not (2 <= len(name) <= longest):
        kind = "单位名称" if organisation else "真实姓名"
        problems.refuse("validation_error", f"请填写{zh}的{kind}（2–{longest} 个字）。", f"{role}.name")
    id_number = problems.check(
        identifiers.validate_party_id, id_type, data.id_number, field=f"{role}.id_number", today=clock.today()
    )
    phone = problems.check(identifiers.validate_phone, data.phone, field=f"{role}.phone")
    email = ""
    if data.email:
        email = problems.check(validate_email, data.email, field=f"{role}.email") or ""
    elif role == "applicant" and contact:
        problems.refuse(
            "validation_error", "请填写投保人的电子邮箱，电子保单将发送到该邮箱。", "applicant.email"
        )
    if len(problems.errors) > before:
        return None
    return Customer(
        name=name,
        id_type=id_type,
        id_number=id_number or "",
        phone=phone or "",
        email=email,
        address=(data.address or "").strip()[:200],
    )


def _vehicle(v: VehicleInput, problems: Problems, group: str | None) -> tuple[str, str, str, str, str]:
    plate = plate_kind = ""
    if v.unregistered:
        if (v.plate or "").strip():
            problems.refuse(
                "validation_error", "未上牌的新车不填号牌号码；上牌后可在线批改补录。", "vehicle.plate"
            )
        plate_kind = "unregistered"
    else:
        info = problems.check(identifiers.validate_plate, v.plate, field="vehicle.plate")
        if info is not None:
            plate, plate_kind = info.plate, info.kind
    vin = problems.check(identifiers.validate_vin, v.vin, field="vehicle.vin") or ""
    engine = (v.engine_number or "").strip().upper()
    if not (4 <= len(engine) <= 32 and engine.isalnum()):
        problems.refuse("validation_error", "请填写发动机号（4–32 位字母或数字）。", "vehicle.engine_number")
    brand = (v.brand_model or "").strip()
    if not (2 <= len(brand) <= 100):
        problems.refuse("validation_error", "请填写厂牌型号。", "vehicle.brand_model")
    if v.registered_on > clock.today():
        label = "购车发票日期" if v.unregistered else "初次登记日期"
        problems.refuse("validation_error", f"{label}不能晚于今天。", "vehicle.registered_on")
    if group in ("truck", "special") and v.curb_weight_t is None:
        problems.refuse(
            "validation_error", "货车和特种车请填写整备质量（吨），用于计算车船税。", "vehicle.curb_weight_t"
        )
    if group == "truck" and v.tonnage is None:
        problems.refuse(
            "validation_error", "货车请填写核定载质量（吨），用于计算交强险保费。", "vehicle.tonnage"
        )
    if (v.battery_capacity_kwh is not None or (v.charger_address or "").strip()) and (
        v.energy_type not in NEV_ENERGY
    ):
        message = "动力电池和自用充电桩只适用于新能源汽车，请核对能源种类。"
        problems.refuse("validation_error", message, "vehicle.energy_type")
    if group == "motorcycle" and v.use_category == "motorcycle" and v.displacement_cc is None:
        problems.refuse("validation_error", "摩托车请填写排量（毫升）。", "vehicle.displacement_cc")
    return plate, plate_kind, vin, engine, brand


def check_application(data: ApplicationInput) -> CheckedApplication:
    """Every check of a new application; raises one coded refusal naming every bad field."""
    problems = Problems()
    applicant = person(data.applicant, "applicant", problems)
    insured = person(data.insured, "insured", problems, contact=False) if data.insured else None
    owner = person(data.owner, "owner", problems, contact=False) if data.owner else None
    catalogue = motor_catalogue()
    v = data.vehicle
    group = problems.check(catalogue.group_of, v.use_category)
    plate, plate_kind, vin, engine, brand = _vehicle(v, problems, group)
    if data.dispute_resolution not in display.DISPUTE_ZH:
        problems.refuse("validation_error", "争议处理方式只能是诉讼或仲裁。", "dispute_resolution")
    elif data.dispute_resolution == "arbitration" and not data.arbitration_body.strip():
        problems.refuse("validation_error", "选择仲裁时请填写仲裁委员会名称。", "arbitration_body")
    charger_riders = [
        c.code
        for p in data.products
        for c in p.coverages
        if c.code in ("charger_damage", "charger_liability")
    ]
    charger = (v.charger_address or "").strip()
    if charger_riders and not 4 <= len(charger) <= 200:
        message = "投保自用充电桩损失保险或责任保险，请填写充电桩的安装地址（4–200 个字）。"
        problems.refuse("validation_error", message, "vehicle.charger_address")
    trip = data.single_trip
    route = (trip.route or "").strip() if trip else ""
    if trip is not None and not 4 <= len(route) <= 200:
        problems.refuse(
            "validation_error", "请填写单程提车的起讫地点及行驶路线（4–200 个字）。", "single_trip.route"
        )
    if len(data.special_agreements) > 4000:
        problems.refuse("validation_error", "特别约定不超过 4000 字。", "special_agreements")
    today = clock.today()
    if not (today < data.period_start <= today + dt.timedelta(days=MAX_DAYS_AHEAD)):
        problems.errors.append(
            ApplicationError(
                "invalid_period",
                f"起保日期须在明天至 {MAX_DAYS_AHEAD} 天内（{today + dt.timedelta(days=1)} 至 "
                f"{today + dt.timedelta(days=MAX_DAYS_AHEAD)}）。",
                {"field": "period_start"},
            )
        )
    quote = None
    priced_on = ("vehicle.", "period_start", "single_trip.")
    if not any(str(i["field"]).startswith(priced_on) for i in problems.items()):
        # Pricing needs a sound vehicle and period; its own refusals join the others.
        quote = problems.check(
            motor_quote,
            vehicle=v,
            region_code=data.region_code,
            floating_code=data.floating_code,
            period_start=data.period_start,
            products=data.products,
            pricing_coefficient=data.pricing_coefficient,
            traffic_coefficient=data.traffic_coefficient,
            trip_days=trip.days if trip else None,
        )
    problems.raise_if_any()
    assert applicant is not None and quote is not None
    form = catalogue.form_version(
        use_category=v.use_category, energy_type=v.energy_type, single_trip=trip is not None
    )
    return CheckedApplication(
        applicant=applicant,
        insured=insured,
        owner=owner,
        plate=plate,
        plate_kind=plate_kind,
        vin=vin,
        engine_number=engine,
        brand_model=brand,
        form_version=form.code,
        quote=quote,
        trip_route=route,
    )
