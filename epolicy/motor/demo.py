"""Demo data (clearly fictitious people and cars with valid check digits) for the sandbox and tests."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

from epolicy.common import clock
from epolicy.common.identifiers import id_number_check_char, vin_check_digit

from .inputs import ApplicationInput, PersonInput, VehicleInput

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
