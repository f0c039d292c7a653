"""Demo data (clearly fictitious people and cars with valid check digits) for the sandbox and tests."""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
from decimal import Decimal

from epolicy.common import clock
from epolicy.common.identifiers import id_number_check_char, vin_check_digit

from .inputs import ApplicationInput, CoverageChoice, PersonInput, ProductChoice, VehicleInput

DEMO_NAMES = ("张三", "李四", "王五", "赵六", "陈晓明", "刘芳")
PLATE_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"


def demo_id_number(rng: random.Random, birth: dt.date | None = None) -> str:
    birth = birth or dt.date(rng.randint(1960, 2000), rng.randint(1, 12), rng.randint(1, 28))
    first17 = f"110105{birth:%Y%m%d}{rng.randint(100, 999)}"
    return first17 + id_number_check_char(first17)


def demo_vin(rng: random.Random) -> str:
    body = "LSV" + "".join(rng.choice("ABCDEFGHJKLMNPRSTUVWXYZ0123456789") for _ in range(5))
    tail = "".join(rng.choice("0123456789") for _ in range(8))
    vin = body + "0" + tail
    return body + vin_check_digit(vin) + tail


def demo_application_input(
    seed: int | None = None,
    *,
    email: str = "applicant@example.com",
    name: str | None = None,
    id_number: str | None = None,
) -> ApplicationInput:
    rng = random.Random(seed)
    person = PersonInput(
        name=name or rng.choice(DEMO_NAMES),
        id_number=id_number or demo_id_number(rng),
        phone=f"13{rng.randint(0, 9)}{rng.randint(10_000_000, 99_999_999)}",
        email=email,
        address="北京市朝阳区示例街道 8 号院 3 号楼 501",
    )
    plate = "京" + rng.choice(PLATE_LETTERS) + "".join(rng.choice("0123456789") for _ in range(5))
    vehicle = VehicleInput(
        plate=plate,
        vin=demo_vin(rng),
        engine_number=f"E{rng.randint(1_000_000, 9_999_999)}",
        brand_model="示例牌 SL7152 轿车（演示）",
        seats=5,
        displacement_l=Decimal("1.50"),
        registered_on=dt.date(2021, 6, 18),
    )
    return ApplicationInput(
        applicant=person,
        vehicle=vehicle,
        region_code="110000",
        period_start=clock.today() + dt.timedelta(days=1),
        floating_code="A2",
        special_agreements="本保单为演示数据，不产生保险责任。",
    )


# --- 交强险 + 商业险 demos: a family car and a new-energy car (the commercial premiums are demo figures)

# What a family buys most often: own damage, 三者 1,000,000, driver and passengers, 划痕.
FAMILY_COVERAGES = (
    CoverageChoice(code="damage"),
    CoverageChoice(code="third_party", amount=Decimal("1000000")),
    CoverageChoice(code="driver", amount=Decimal("10000")),
    CoverageChoice(code="passenger", amount=Decimal("10000"), seats=4),
    CoverageChoice(code="scratch", amount=Decimal("2000")),
)
# An NEV car under the 2021 NEV clauses, with two of the riders only they offer.
NEV_COVERAGES = (
    CoverageChoice(code="damage"),
    CoverageChoice(code="third_party", amount=Decimal("1000000")),
    CoverageChoice(code="driver", amount=Decimal("10000")),
    CoverageChoice(code="grid_failure"),
    CoverageChoice(code="charger_damage", amount=Decimal("5000")),
)
DEMOS = {
    "family": ("家庭车 交强险+商业险", Decimal("150000.00"), FAMILY_COVERAGES),
    "nev": ("新能源车 交强险+商业险", Decimal("230000.00"), NEV_COVERAGES),
}


def _vin_with_history(rng: random.Random) -> str:
    """A VIN whose sandbox claim history answers at once (a last digit of 9 times out on the first call,
    see epolicy.motor.providers.sandbox)."""
    while True:
        vin = demo_vin(rng)
        if vin[-1] != "9":
            return vin


def demo_commercial_input(kind: str, seed: int | None = None) -> ApplicationInput:
    """A demo application for 交强险 + 商业险: kind "family" (fuel car) or "nev" (battery electric)."""
    _label, price, coverages = DEMOS[kind]
    base = demo_application_input(seed)
    rng = random.Random(seed)
    changes: dict[str, object] = {"new_car_price": price, "vin": _vin_with_history(rng)}
    if kind == "nev":
        changes.update(
            energy_type="bev",
            displacement_l=Decimal("0"),
            brand_model="示例牌 EV7 纯电动轿车（演示）",
            battery_capacity_kwh=Decimal("75.0"),
            charger_address="北京市朝阳区示例街道 8 号院地下车库 B2-018（演示）",
        )
    vehicle = dataclasses.replace(base.vehicle, **changes)  # type: ignore[arg-type]
    return dataclasses.replace(
        base,
        vehicle=vehicle,
        products=(ProductChoice("ctpl"), ProductChoice("commercial", coverages=coverages)),
    )
