"""Fill a database with millions of generated motor and life policies, for scale tests and benchmarks.

    EPOLICY_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/epolicy_scale .venv/bin/epolicy migrate
    EPOLICY_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/epolicy_scale \\
        nice .venv/bin/python -m bench.datagen --motor 10000000 --life 1000000

Unlike the other benches this one writes into the database EPOLICY_DATABASE_URL names (it is meant to be
kept for load tests). What it writes, per motor application (投保单, one a row):

- the applicant's `parties.Customer` row (and the insured's, when another person: about 1 in 10), with
  name, ID number, phone, e-mail and address encrypted and the ID number's and phone's blind indexes,
  computed by the platform's own `crypto.encrypt` and `Customer.id_index` / `phone_index_of`, so the
  platform's look-ups find them. A person renews: about three applications (years apart) share one
  person's ID number, phone, plate and VIN, each with its own Customer row as the motor side makes one
  per application;
- the issued application, and one policy per product bought (交强险 only, 商业险 only, or both: two
  policies), each with its version 1 (the display data, encrypted), its e-policy's archive row and, for
  交强险, the electronic mark's archive row. Archive rows have keys under `datagen/` and size 0: no file
  exists behind them;
- a few percent of policies carry an applied endorsement (批改: a changed phone, or 退保, which leaves the
  policy 已退保) with its version 2 and its e-endorsement's archive row.

Life policies (`servicing.LifePolicy` + version 1) take their state from the engine's own demo states
(`epolicy.rules.life.demo`), renumbered and renamed, with the applicant's ID number's and phone's blind
indexes.

Rows are generated from their index alone (the same arguments give the same rows), in chunks, by several
processes, and written with COPY on PostgreSQL (executemany elsewhere, for tests on SQLite). While a chunk
is copied, foreign keys are not checked row by row (session_replication_role = replica): the generator
writes every referenced row in the same transaction, and `check` verifies that afterwards. Nothing of
the schema is dropped or recreated, unless `--defer-indexes` asks (PostgreSQL, a fresh database): then
the written tables' secondary indexes and unique constraints are dropped before the first chunk and built
again, each in one pass, after the last (see `deferrable_indexes`). Primary keys are reserved from the
tables' sequences first and the document-number sequences are moved past the numbers used, so the
platform carries on where the generated data ends.
"""

from __future__ import annotations

import argparse
import base64
import dataclasses
import datetime as dt
import hashlib
import json
import multiprocessing
import os
import random
import signal
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

# ---------------------------------------------------------------------------------------------------------
# Distributions (weights are relative)

# (plate province + office letter, region code of the rating tables, weight): the larger registrations first.
REGIONS: tuple[tuple[str, str, int], ...] = (
    ("粤A", "440100", 60),
    ("粤B", "440300", 55),
    ("京A", "110000", 45),
    ("京N", "110000", 20),
    ("沪A", "310000", 45),
    ("苏A", "320100", 30),
    ("苏E", "320500", 35),
    ("浙A", "330100", 40),
    ("浙B", "330200", 20),
    ("川A", "510100", 45),
    ("渝A", "500000", 35),
    ("鄂A", "420100", 30),
    ("豫A", "410100", 35),
    ("鲁A", "370100", 20),
    ("鲁B", "370200", 20),
    ("陕A", "610100", 25),
    ("湘A", "430100", 20),
    ("皖A", "340100", 20),
    ("闽D", "350200", 12),
    ("津A", "120000", 20),
    ("冀A", "130100", 18),
    ("辽B", "210200", 10),
    ("黑A", "230100", 10),
    ("云A", "530100", 12),
    ("新A", "650100", 6),
)

# (use category of the catalogue, seats, displacement L, tonnage, ctpl base premium, weight in ‰)
VEHICLE_CLASSES: tuple[tuple[str, int, str, str | None, str, int], ...] = (
    ("family_private", 5, "1.50", None, "950.00", 700),
    ("family_private", 5, "2.00", None, "950.00", 120),
    ("family_private", 7, "2.00", None, "1100.00", 40),
    ("enterprise_passenger", 5, "2.00", None, "1000.00", 25),
    ("government_passenger", 5, "2.00", None, "950.00", 5),
    ("rental_passenger", 5, "1.60", None, "1800.00", 15),
    ("city_bus", 40, "6.70", None, "4500.00", 3),
    ("highway_coach", 45, "9.00", None, "5000.00", 2),
    ("noncommercial_truck", 3, "2.50", "1.50", "1200.00", 20),
    ("commercial_truck", 3, "6.00", "10.00", "3000.00", 30),
    ("special_1", 2, "8.00", None, "3700.00", 3),
    ("motorcycle", 2, "0.15", None, "120.00", 30),
    ("tractor", 1, "2.00", None, "150.00", 7),
)
# 交强险 and 商业险 bought together, 交强险 alone, 商业险 alone (per 100 applications): 1.62 policies each.
PRODUCT_MIX: tuple[tuple[tuple[str, ...], int], ...] = (
    (("ctpl", "commercial"), 62),
    (("ctpl",), 33),
    (("commercial",), 5),
)
POLICY_PREFIX = {"ctpl": "PDZA", "commercial": "PDAA"}
ENDORSEMENT_PREFIX = {"ctpl": "EDZA", "commercial": "EDAA"}
APPLICATION_PREFIX = "TDZA"
ENDORSED_PER_MILLE = 30  # 批改 on 3 % of policies; a third of them 退保
YEARS = 5  # confirmations spread over the last five years
NEV_SHARE_PER_MILLE = 180
CANCEL_GROUNDS = {"ctpl": "scrapped", "commercial": "customer_request"}

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢"
)
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红鹏辉建国志浩宇晨欣怡子涵梓轩博文思雨嘉琪"
STREETS = (
    "人民路",
    "解放路",
    "中山路",
    "建设路",
    "和平路",
    "长江路",
    "新华路",
    "文化路",
    "光明街",
    "滨江大道",
)
BRANDS = (
    ("LSV", "大众汽车牌SVW71512"),
    ("LFV", "一汽大众牌FV7152"),
    ("LGB", "东风日产牌DFL7151"),
    ("LHG", "广汽本田牌GHA7150"),
    ("LVS", "长安福特牌CAF7152"),
    ("LGX", "比亚迪牌BYD7005BEV"),
    ("LRW", "特斯拉牌TSL7000BEV"),
    ("LSG", "别克牌SGM7158"),
    ("LBV", "华晨宝马牌BMW7201"),
    ("LZW", "五菱牌LZW6447"),
)
SERIAL_CHARS = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # plate serials: no I, O
VIN_PLANT_CHARS = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"

LIFE_STATUS_WEIGHTS = {  # demo states by status → share of generated life policies (‰)
    "in_force": 820,
    "lapsed": 120,
}
LIFE_TERMINAL_PER_MILLE = 60  # surrendered / matured / terminated, from an in-force state


def _cumulative(weights: Sequence[int]) -> list[int]:
    out, total = [], 0
    for w in weights:
        total += w
        out.append(total)
    return out


def _pick(rng: random.Random, items: Sequence[T], cum: Sequence[int]) -> T:
    x = rng.randrange(cum[-1])
    lo, hi = 0, len(cum) - 1
    while lo < hi:
        mid = (lo + hi) // 2
        if cum[mid] > x:
            hi = mid
        else:
            lo = mid + 1
    return items[lo]


REGION_CUM = _cumulative([w for *_, w in REGIONS])
CLASS_CUM = _cumulative([w for *_, w in VEHICLE_CLASSES])
MIX_PATTERN: tuple[tuple[str, ...], ...] = tuple(
    random.Random(7).sample([p for p, n in PRODUCT_MIX for _ in range(n)], 100)
)
POLICIES_PER_100 = sum(len(p) for p in MIX_PATTERN)


def applications_for(motor_policies: int) -> int:
    """How many applications give (about, at most one less than) this many policies."""
    whole, rest = divmod(motor_policies, POLICIES_PER_100)
    apps = whole * 100
    count = 0
    while count < rest:
        count += len(MIX_PATTERN[apps % 100])
        apps += 1
    return apps


# ---------------------------------------------------------------------------------------------------------
# Plan: id ranges and calendar


@dataclass(frozen=True)
class Plan:
    apps: int
    life: int
    today: dt.date
    seed: int
    marks: bool
    # first primary key reserved in each table
    customer0: int
    application0: int
    policy0: int
    version0: int
    archive0: int
    endorsement0: int
    life0: int
    lifeversion0: int

    @property
    def days(self) -> int:
        return YEARS * 365

    @property
    def persons(self) -> int:
        return max(1, self.apps // 3)

    @property
    def first_day(self) -> dt.date:
        return self.today - dt.timedelta(days=self.days)

    def day_of(self, i: int) -> int:
        return i * self.days // max(1, self.apps)

    def counter_of(self, i: int) -> int:
        """The application's number within its day (1-based): ids and numbers grow with time."""
        d = self.day_of(i)
        return i - (d * self.apps + self.days - 1) // self.days + 1

    # Primary keys: gaps are allowed (2 per application for people and policies, 3 archive rows per
    # policy), so that every row's key follows from its application's index alone.
    def customer_id(self, i: int, k: int) -> int:
        return self.customer0 + 2 * i + k

    def policy_id(self, i: int, k: int) -> int:
        return self.policy0 + 2 * i + k

    def version_id(self, i: int, k: int, version: int) -> int:
        return self.version0 + (version - 1) * 2 * self.apps + 2 * i + k

    def archive_id(self, i: int, k: int, what: int) -> int:
        return self.archive0 + 3 * (2 * i + k) + what

    # Spans reserved in each table's sequence.
    def spans(self) -> dict[str, int]:
        return {
            "customer": 2 * self.apps,
            "application": self.apps,
            "policy": 2 * self.apps,
            "version": 4 * self.apps,
            "archive": 6 * self.apps,
            "endorsement": 2 * self.apps,
            "life": self.life,
            "lifeversion": self.life,
        }


# ---------------------------------------------------------------------------------------------------------
# People and vehicles (derived from the person's index: a person's renewals share them)


def _base34(n: int, width: int) -> str:
    out = []
    for _ in range(width):
        n, r = divmod(n, len(SERIAL_CHARS))
        out.append(SERIAL_CHARS[r])
    return "".join(reversed(out))


@dataclass(frozen=True)
class Person:
    name: str
    id_number: str
    phone: str
    email: str
    address: str
    region: tuple[str, str, int]


def person(p: int, seed: int) -> Person:
    rng = random.Random(p * 1_000_003 + seed)
    region = _pick(rng, REGIONS, REGION_CUM)
    # Unique per person: birth day and sequence number from a bijection of p (18 million of them).
    q = (p * 7919 + seed) % 18_000_000
    birth = dt.date(1950, 1, 1) + dt.timedelta(days=q // 1000)
    first17 = f"{region[1][:4]}01{birth:%Y%m%d}{q % 1000:03d}"
    name = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2, 2))))
    phone = f"1{rng.choice('3456789')}{rng.randrange(10)}{(p * 104_729 + seed) % 100_000_000:08d}"
    email = f"u{p}@example.com" if rng.randrange(10) < 3 else ""
    address = f"{region[0][0]}某市{rng.choice(STREETS)}{rng.randrange(1, 999)}号"
    return Person(name, first17 + _check_char(first17), phone, email, address, region)


def _check_char(first17: str) -> str:
    from epolicy.common.identifiers import id_number_check_char

    return id_number_check_char(first17)


@dataclass(frozen=True)
class Vehicle:
    plate: str
    plate_kind: str
    vin: str
    engine_number: str
    brand_model: str
    vehicle_class: tuple[str, int, str, str | None, str, int]
    energy_type: str
    registered_on: dt.date


def vehicle(p: int, seed: int, region: tuple[str, str, int], first_day: dt.date) -> Vehicle:
    from epolicy.common.identifiers import vin_check_digit

    rng = random.Random(p * 999_983 + seed + 1)
    cls = _pick(rng, VEHICLE_CLASSES, CLASS_CUM)
    passenger = cls[0] in ("family_private", "enterprise_passenger", "rental_passenger")
    nev = passenger and rng.randrange(1000) < NEV_SHARE_PER_MILLE
    serial = _base34((p * 40_503 + seed) % (34**5), 5)
    if nev:
        plate, kind = f"{region[0]}{rng.choice('DF')}{serial}", "new_energy_small"
    else:
        plate, kind = f"{region[0]}{serial}", "ordinary"
    wmi, model = BRANDS[rng.randrange(len(BRANDS))]
    vds = "".join(rng.choice(VIN_PLANT_CHARS) for _ in range(5))
    year_char = "HJKLMNPRS"[rng.randrange(9)]
    plant = VIN_PLANT_CHARS[(p // 1_000_000) % len(VIN_PLANT_CHARS)]
    draft = f"{wmi}{vds}0{year_char}{plant}{p % 1_000_000:06d}"
    vin = draft[:8] + vin_check_digit(draft) + draft[9:]
    engine = f"E{(p * 31 + seed) % 10**9:09d}"
    registered = first_day - dt.timedelta(days=rng.randrange(0, 3650))
    return Vehicle(plate, kind, vin, engine, model, cls, "electric" if nev else "fuel", registered)


# ---------------------------------------------------------------------------------------------------------
# Rows


def _token(rng: random.Random, nbytes: int) -> str:
    return base64.urlsafe_b64encode(rng.getrandbits(8 * nbytes).to_bytes(nbytes, "big")).decode().rstrip("=")


def _money(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"))


def _add_year(day: dt.date) -> dt.date:
    try:
        return day.replace(year=day.year + 1)
    except ValueError:
        return day.replace(year=day.year + 1, day=28)


TABLES: dict[str, tuple[str, ...]] = {
    "parties_customer": (
        "id", "name", "id_type", "id_number", "id_number_index", "phone", "phone_index", "email",
        "address", "created_at",
    ),
    "archive_archivedobject": (
        "id", "key", "public_id", "kind", "sha256", "size", "content_type", "subject_type", "subject_id",
        "retention_until", "superseded_by_id", "created_at", "replicated_at", "deleted_at", "purged_at",
    ),
    "motor_application": (
        "id", "number", "product", "products", "form_version", "status", "applicant_id", "insured_id",
        "owner_id", "plate", "plate_index", "plate_kind", "vin", "vin_index", "engine_number",
        "brand_model", "use_category", "seats", "energy_type", "displacement_l", "tonnage",
        "curb_weight_t", "displacement_cc", "is_trailer", "new_car_price", "unregistered",
        "battery_capacity_kwh", "charger_address", "trip_days", "trip_route", "registered_on",
        "region_code", "floating_code", "period_start", "period_end", "base_premium", "floating_rate",
        "premium", "vehicle_tax", "total_due", "quote", "special_agreements", "dispute_resolution",
        "arbitration_body", "business_source", "access_token", "access_token_index", "submitted_by",
        "created_by_client_id", "created_at", "approved_at", "approved_by", "signed_at",
        "otp_verified_at", "paid_at", "form_document_id", "form_signature_box", "replaces_id",
        "signed_document_id",
    ),
    "policies_policy": (
        "id", "number", "product", "status", "application_id", "applicant_id", "plate", "plate_index",
        "vin_index", "insured_id", "period_start", "period_end", "premium", "vehicle_tax", "confirmed_at",
        "verify_code", "document_id", "mark_document_id",
    ),
    "policies_policyversion": ("id", "policy_id", "version", "data", "document_id", "created_at", "reason"),
    "motor_endorsement": (
        "id", "number", "policy_id", "kind", "status", "changes", "before", "quoted_on", "effective_on",
        "refund", "premium_due", "paid_at", "refund_basis", "requested_by", "created_at", "signed_at",
        "signed_request_id", "otp_verified_at", "realname_verified_at", "realname_reference",
        "consent_verified_at", "applied_at", "version", "verify_code", "document_id",
    ),
    "servicing_lifepolicy": (
        "id", "number", "product_code", "applicant_name", "applicant_id_index", "applicant_phone",
        "applicant_phone_index", "applicant_email", "status", "current_version", "created_at",
    ),
    "servicing_lifepolicyversion": (
        "id", "policy_id", "version", "state", "change_id", "reason", "created_at",
    ),
}  # fmt: skip
ACTOR = "datagen"


class Rows:
    """The rows of one chunk, by table."""

    def __init__(self) -> None:
        self.tables: dict[str, list[tuple[Any, ...]]] = {name: [] for name in TABLES}

    def count(self) -> int:
        return sum(len(rows) for rows in self.tables.values())


class MotorMaker:
    """Rows of motor applications by index (one process makes many chunks with one maker)."""

    def __init__(self, plan: Plan) -> None:
        from django.utils import timezone

        from epolicy.archive.services import retention_until
        from epolicy.common import crypto
        from epolicy.common.masking import mask_id_number, mask_name
        from epolicy.common.vehicle_keys import plate_index_of, vin_index_of
        from epolicy.parties.models import Customer
        from epolicy.policies.status import status_on

        self.plan = plan
        self.encrypt = crypto.encrypt
        self.id_index = Customer.id_index
        self.phone_index = Customer.phone_index_of
        self.plate_index = plate_index_of
        self.vin_index = vin_index_of
        self.retention_until = retention_until
        self.status_on = status_on
        self.mask_id = mask_id_number
        self.mask_name = mask_name
        self.utc = dt.UTC
        self.tz = timezone.get_default_timezone()

    def customer_row(self, cid: int, who: Person, at: dt.datetime) -> tuple[Any, ...]:
        enc = self.encrypt
        return (
            cid,
            enc(who.name, context="parties.customer.name"),
            "resident_id",
            enc(who.id_number, context="parties.customer.id_number"),
            self.id_index(who.id_number),
            enc(who.phone, context="parties.customer.phone"),
            self.phone_index(who.phone),
            enc(who.email, context="parties.customer.email") if who.email else "",
            enc(who.address, context="parties.customer.address"),
            at,
        )

    def archive_row(
        self, aid: int, rng: random.Random, kind: str, name: str, subject: tuple[str, int], at: dt.datetime,
        retention: dt.date,
    ) -> tuple[Any, ...]:  # fmt: skip
        local = at.astimezone(self.tz)
        key = f"datagen/{kind}/{local:%Y/%m/%d}/{name}"
        return (
            aid,
            key,
            _token(rng, 18),
            kind,
            hashlib.sha256(key.encode()).hexdigest(),
            0,
            "application/pdf",
            subject[0],
            subject[1],
            retention,
            None,
            at,
            None,
            None,
            None,
        )

    def application(self, i: int, out: Rows) -> None:
        plan, enc = self.plan, self.encrypt
        rng = random.Random(i * 2_654_435_761 + plan.seed)
        p = i % plan.persons
        who = person(p, plan.seed)
        car = vehicle(p, plan.seed, who.region, plan.first_day)
        products = MIX_PATTERN[i % 100]
        day = plan.first_day + dt.timedelta(days=plan.day_of(i))
        counter = plan.counter_of(i)
        ymd = f"{day:%Y%m%d}"
        # Submitted in business hours (Shanghai), confirmed (paid) within the hour.
        created = dt.datetime.combine(day, dt.time(8), self.tz) + dt.timedelta(
            seconds=rng.randrange(12 * 3600)
        )
        created = created.astimezone(self.utc)
        confirmed = created + dt.timedelta(seconds=rng.randrange(120, 3600))
        lead = rng.choice((1, 1, 1, 1, 3, 7, 15, 30))
        start = day + dt.timedelta(days=lead)
        end = _add_year(start) - dt.timedelta(days=1)
        today_status = self.status_on(period_start=start, period_end=end, day=plan.today)

        # People: the applicant's row, and the insured's when another person (owner = insured).
        applicant_id = plan.customer_id(i, 0)
        out.tables["parties_customer"].append(self.customer_row(applicant_id, who, created))
        insured_id = applicant_id
        insured = who
        if rng.randrange(10) == 0:
            insured = person(plan.persons + (i * 7 + 3) % (4 * plan.persons + 1), plan.seed)
            insured_id = plan.customer_id(i, 1)
            out.tables["parties_customer"].append(self.customer_row(insured_id, insured, created))

        cls = car.vehicle_class
        use, seats, displacement, tonnage, base = cls[0], cls[1], cls[2], cls[3], Decimal(cls[4])
        floating = Decimal(rng.choice(("-0.3000", "-0.2000", "-0.1000", "0.0000", "0.0000", "0.1000")))
        ctpl_premium = _money(base * (1 + floating))
        bands = ("300.00", "420.00", "480.00", "900.00")
        # New-energy vehicles are exempt (and draw no band).
        tax = Decimal("0.00") if car.energy_type == "electric" else Decimal(rng.choice(bands))
        commercial_premium = _money(Decimal(max(600.0, rng.lognormvariate(8.0, 0.45))))
        new_car_price = _money(Decimal(rng.randrange(60_000, 400_000)))
        premium_of = {"ctpl": ctpl_premium, "commercial": commercial_premium}
        premium = sum((premium_of[c] for c in products), Decimal("0.00"))
        vehicle_tax = tax if "ctpl" in products else Decimal("0.00")
        quote: dict[str, Any] = {"ctpl_premium": f"{ctpl_premium}"} if "ctpl" in products else {}
        if "commercial" in products:
            quote["commercial"] = {"premium": f"{commercial_premium}", "total": f"{commercial_premium}"}
        app_id = self.plan.application0 + i
        plate_index, vin_index = self.plate_index(car.plate), self.vin_index(car.vin)
        app_number = f"{APPLICATION_PREFIX}{ymd}{counter:06d}"
        out.tables["motor_application"].append(
            (
                app_id, app_number, "+".join(products), json.dumps(list(products)), "standard", "issued",
                applicant_id, insured_id, insured_id,
                enc(car.plate, context="motor.application.plate"), plate_index, car.plate_kind,
                enc(car.vin, context="motor.application.vin"), vin_index,
                enc(car.engine_number, context="motor.application.engine_number"),
                car.brand_model, use, seats, car.energy_type, Decimal(displacement),
                Decimal(tonnage) if tonnage else None, None, None, False,
                new_car_price if "commercial" in products else None, False,
                Decimal("60.0") if car.energy_type == "electric" else None, "", None, "",
                car.registered_on, who.region[1], "", start, end, base, floating,
                premium, vehicle_tax, premium + vehicle_tax, json.dumps(quote), "", "litigation", "", "直销",
                "", "", ACTOR, None, created, created, ACTOR, created, confirmed, confirmed,
                None, "{}", None, None,
            )
        )  # fmt: skip

        retention = self.retention_until(start, end)
        for k, code in enumerate(products):
            pid = plan.policy_id(i, k)
            number = f"{POLICY_PREFIX[code]}{ymd}{counter:06d}"
            verify_code = _token(rng, 16)
            doc = plan.archive_id(i, k, 0)
            mark = plan.archive_id(i, k, 1) if code == "ctpl" and plan.marks else None
            policy_subject = ("policies.policy", pid)
            tables = out.tables
            tables["archive_archivedobject"].append(
                self.archive_row(doc, rng, "policy", number, policy_subject, confirmed, retention)
            )
            if mark is not None:
                tables["archive_archivedobject"].append(
                    self.archive_row(
                        mark, rng, "mark", f"{number}-mark", policy_subject, confirmed, retention
                    )
                )
            endorsed = rng.randrange(1000) < ENDORSED_PER_MILLE
            cancelled = endorsed and rng.randrange(3) == 0
            status = today_status
            endorsed_at = confirmed + dt.timedelta(days=rng.randrange(1, 200))
            if endorsed and endorsed_at.date() >= plan.today:
                endorsed = cancelled = False
            if cancelled:
                status = "cancelled"
            tables["policies_policy"].append(
                (
                    pid, number, code, status, app_id, applicant_id,
                    enc(car.plate, context="policies.policy.plate"), plate_index,
                    vin_index, insured_id, start, end, premium_of[code],
                    tax if code == "ctpl" else Decimal("0.00"), confirmed, verify_code, doc, mark,
                )
            )  # fmt: skip
            sections = self.sections(number, code, who, insured, car, start, end, premium_of[code])
            tables["policies_policyversion"].append(
                (
                    plan.version_id(i, k, 1), pid, 1,
                    enc(json.dumps(sections, ensure_ascii=False), context="policies.policyversion.data"),
                    doc, confirmed, "新保出单",
                )
            )  # fmt: skip
            if endorsed:
                self.endorsement(
                    i, k, code, rng, number, pid, who, cancelled, endorsed_at, retention, sections, out
                )

    def endorsement(
        self, i: int, k: int, code: str, rng: random.Random, policy_number: str, pid: int, who: Person,
        cancelled: bool, at: dt.datetime, retention: dt.date, sections: list[dict[str, Any]], out: Rows,
    ) -> None:  # fmt: skip
        plan, enc = self.plan, self.encrypt
        local_day = at.astimezone(self.tz).date()
        number = f"{ENDORSEMENT_PREFIX[code]}{policy_number[4:]}"
        doc = plan.archive_id(i, k, 2)
        out.tables["archive_archivedobject"].append(
            self.archive_row(doc, rng, "endorsement", number, ("policies.policy", pid), at, retention)
        )
        if cancelled:
            kind, changes, before = (
                "cancel",
                {"ground": CANCEL_GROUNDS[code], "ground_zh": "（生成数据）"},
                {},
            )
            refund, reason = _money(Decimal(rng.randrange(50, 900))), "批改：退保"
        else:
            new_phone = f"1{rng.choice('3456789')}{rng.randrange(10**9):09d}"
            kind, changes, before = "contact", {"phone": new_phone}, {"phone": who.phone}
            refund, reason = Decimal("0.00"), "批改：联系方式变更"
        out.tables["policies_policyversion"].append(
            (
                plan.version_id(i, k, 2), pid, 2,
                enc(json.dumps(sections, ensure_ascii=False), context="policies.policyversion.data"),
                doc, at, reason,
            )
        )  # fmt: skip
        out.tables["motor_endorsement"].append(
            (
                plan.endorsement0 + 2 * i + k, number, pid, kind, "applied",
                enc(json.dumps(changes, ensure_ascii=False), context="motor.endorsement.changes"),
                enc(json.dumps(before, ensure_ascii=False), context="motor.endorsement.before"),
                local_day, local_day, refund, Decimal("0.00"), None, "", ACTOR, at, at, None, at, None, "",
                None, at, 2, _token(rng, 16), doc,
            )
        )  # fmt: skip

    def sections(
        self, number: str, code: str, who: Person, insured: Person, car: Vehicle, start: dt.date,
        end: dt.date, premium: Decimal,
    ) -> list[dict[str, Any]]:  # fmt: skip
        def section(title: str, fields: list[tuple[str, str]]) -> dict[str, Any]:
            return {
                "title": title,
                "fields": [{"label": label, "value": value} for label, value in fields],
                "paragraphs": [],
                "table": None,
            }

        return [
            section(
                "保险单信息",
                [
                    ("保险单号", number),
                    ("险种", "机动车交通事故责任强制保险" if code == "ctpl" else "机动车商业保险"),
                    ("保险期间", f"自 {start:%Y年%m月%d日} 0 时起至 {end:%Y年%m月%d日} 24 时止"),
                ],
            ),
            section("投保人", [("名称", who.name), ("证件号码", self.mask_id(who.id_number))]),
            section("被保险人", [("名称", insured.name), ("证件号码", self.mask_id(insured.id_number))]),
            section(
                "保险车辆",
                [
                    ("号牌号码", car.plate),
                    ("厂牌型号", car.brand_model),
                    ("车辆识别代号（VIN）", car.vin),
                    ("发动机号", car.engine_number),
                ],
            ),
            section("保险费", [("保险费合计", f"¥{premium:,}")]),
        ]


class LifeMaker:
    """Rows of life policies by index, from the engine's demo states."""

    def __init__(self, plan: Plan) -> None:
        from epolicy.common import crypto
        from epolicy.parties.models import Customer
        from epolicy.products.life_tables import load_life_catalogue
        from epolicy.rules.life.demo import demo_policies

        self.plan = plan
        self.encrypt = crypto.encrypt
        self.id_index = Customer.id_index
        self.phone_index = Customer.phone_index_of
        states = demo_policies(load_life_catalogue(), plan.today)
        # Each template as JSON text with the number and the people's names as placeholders.
        self.templates: list[tuple[str, str, str]] = []  # (status, product, json)
        for state in states.values():
            text = json.dumps(state.to_json(), ensure_ascii=False)
            text = text.replace(state.policy_number, "@NUMBER@")
            text = text.replace(state.applicant.name, "@APPLICANT@")
            text = text.replace(state.insured.name, "@INSURED@")
            self.templates.append((state.status, state.product_code, text))
        by_status: dict[str, list[int]] = {}
        for n, (status, _, _) in enumerate(self.templates):
            by_status.setdefault(status, []).append(n)
        self.choices: list[int] = []
        weights: list[int] = []
        for status, members in by_status.items():
            for n in members:
                self.choices.append(n)
                weights.append(max(1, LIFE_STATUS_WEIGHTS.get(status, 20) // len(members)))
        self.cum = _cumulative(weights)

    def policy(self, j: int, out: Rows) -> None:
        plan, enc = self.plan, self.encrypt
        rng = random.Random(j * 2_246_822_519 + plan.seed + 17)
        # Half the life applicants also hold motor policies (the same person, the same ID number).
        p = j % plan.persons if j % 2 == 0 else 5 * plan.persons + j
        who = person(p, plan.seed)
        insured = who if rng.randrange(3) else person(6 * plan.persons + plan.life + j, plan.seed)
        status, product, text = self.templates[_pick(rng, self.choices, self.cum)]
        if status == "in_force" and rng.randrange(1000) < LIFE_TERMINAL_PER_MILLE:
            status = rng.choice(("surrendered", "matured", "terminated"))
            text = text.replace('"status": "in_force"', f'"status": "{status}"', 1)
        number = f"PL{plan.today:%Y}{j + 1:010d}"
        state = (
            text.replace("@NUMBER@", number)
            .replace("@APPLICANT@", who.name)
            .replace("@INSURED@", insured.name)
        )
        created = dt.datetime.combine(
            plan.today - dt.timedelta(days=1 + rng.randrange(10 * 365)), dt.time(10), self.tz()
        ).astimezone(dt.UTC)
        lid = plan.life0 + j
        out.tables["servicing_lifepolicy"].append(
            (
                lid, number, product, enc(who.name, context="servicing.lifepolicy.applicant_name"),
                self.id_index(who.id_number), enc(who.phone, context="servicing.lifepolicy.applicant_phone"),
                self.phone_index(who.phone),
                enc(who.email, context="servicing.lifepolicy.applicant_email") if who.email else "",
                status, 1, created,
            )
        )  # fmt: skip
        out.tables["servicing_lifepolicyversion"].append(
            (
                plan.lifeversion0 + j, lid, 1, enc(state, context="servicing.lifepolicyversion.state"),
                None, "承保（生成数据）", created,
            )
        )  # fmt: skip

    @staticmethod
    def tz() -> dt.tzinfo:
        from django.utils import timezone

        return timezone.get_default_timezone()


# ---------------------------------------------------------------------------------------------------------
# Writing


def _copy_rows(cur: Any, rows: Rows) -> None:
    """COPY a chunk's rows (psycopg 3 cursor), foreign keys unchecked until the transaction ends."""
    cur.execute("SET LOCAL session_replication_role = replica")
    for table, columns in TABLES.items():
        batch = rows.tables[table]
        if not batch:
            continue
        with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in batch:
                copy.write_row(row)
    cur.execute("SET LOCAL session_replication_role = origin")


def _insert_chunk(rows: Rows) -> None:
    """In this process, through Django's connection (so a test's transaction holds the rows too)."""
    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as cur:
        if connection.vendor == "postgresql":
            _copy_rows(cur.cursor, rows)
            return
        adapt = _sqlite_value if connection.vendor == "sqlite" else (lambda value: value)
        for table, columns in TABLES.items():
            batch = [tuple(adapt(value) for value in row) for row in rows.tables[table]]
            if batch:
                marks = ", ".join(["%s"] * len(columns))
                sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"  # noqa: S608 - our names
                cur.executemany(sql, batch)


def _sqlite_value(value: Any) -> Any:
    """A value as Django itself would store it in SQLite (datetimes naive UTC, decimals as text)."""
    from django.db import connection

    if isinstance(value, dt.datetime):
        return connection.ops.adapt_datetimefield_value(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


_worker: dict[str, Any] = {}


def _worker_init(plan: Plan, dsn: str | None) -> None:
    import django

    django.setup()
    _worker["plan"] = plan
    _worker["motor"] = MotorMaker(plan)
    _worker["life"] = LifeMaker(plan) if plan.life else None
    if dsn:
        import psycopg

        conn = psycopg.connect(dsn, autocommit=False)
        with conn.cursor() as cur:
            cur.execute("SET synchronous_commit = off")
        conn.commit()
        _worker["conn"] = conn


def _make(kind: str, lo: int, hi: int) -> Rows:
    rows = Rows()
    if kind == "motor":
        maker = _worker["motor"]
        for i in range(lo, hi):
            maker.application(i, rows)
    else:
        life = _worker["life"]
        for j in range(lo, hi):
            life.policy(j, rows)
    return rows


def _run_chunk(task: tuple[str, int, int]) -> tuple[str, int, int, int, int]:
    kind, lo, hi = task
    rows = _make(kind, lo, hi)
    conn = _worker.get("conn")
    if conn is not None:
        with conn.cursor() as cur:
            _copy_rows(cur, rows)
        conn.commit()
    else:
        _insert_chunk(rows)
    policies = len(rows.tables["policies_policy"]) + len(rows.tables["servicing_lifepolicy"])
    return kind, lo, hi, policies, rows.count()


# ---------------------------------------------------------------------------------------------------------
# Reserving keys, moving the number sequences


SEQUENCED = {
    "customer": "parties_customer",
    "application": "motor_application",
    "policy": "policies_policy",
    "version": "policies_policyversion",
    "archive": "archive_archivedobject",
    "endorsement": "motor_endorsement",
    "life": "servicing_lifepolicy",
    "lifeversion": "servicing_lifepolicyversion",
}


def _reserve(spans: dict[str, int]) -> dict[str, int]:
    """First key of a free range of `span` keys in each table; the table's sequence moved past it."""
    from django.db import connection

    firsts: dict[str, int] = {}
    with connection.cursor() as cur:
        for name, table in SEQUENCED.items():
            cur.execute(f"SELECT COALESCE(MAX(id), 0) FROM {table}")  # noqa: S608 - our table names
            first = int(cur.fetchone()[0]) + 1
            if connection.vendor == "postgresql":
                cur.execute(f"SELECT pg_get_serial_sequence('{table}', 'id')")
                seq = cur.fetchone()[0]
                cur.execute("SELECT nextval(%s)", [seq])
                first = max(first, int(cur.fetchone()[0]))
                cur.execute("SELECT setval(%s, %s)", [seq, first + spans[name] + 1])
            firsts[name] = first
    return firsts


def _finish_sequences(plan: Plan) -> list[str]:
    """Document-number counters past every number used, so that the platform's next numbers are new."""
    from django.db import connection

    from epolicy.common.models import Sequence

    per_day: dict[str, int] = {}
    for i in _day_ends(plan):
        day = plan.first_day + dt.timedelta(days=plan.day_of(i))
        per_day[f"{day:%Y%m%d}"] = plan.counter_of(i)
    names = {
        f"{prefix}:{ymd}": counter
        for ymd, counter in per_day.items()
        for prefix in (APPLICATION_PREFIX, *POLICY_PREFIX.values(), *ENDORSEMENT_PREFIX.values())
    }
    existing: dict[str, int] = {}
    for batch in _batches(list(names), 500):
        existing |= dict(Sequence.objects.filter(name__in=batch).values_list("name", "value"))
    created = [n for n in names if n not in existing]
    Sequence.objects.bulk_create([Sequence(name=n, value=names[n]) for n in created], batch_size=500)
    for name, value in names.items():
        if name in existing and existing[name] < value:
            Sequence.objects.filter(name=name).update(value=value)
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:  # the keys past the generated rows' (gaps included)
            for table in SEQUENCED.values():
                cur.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608
                    f"GREATEST((SELECT COALESCE(MAX(id), 0) FROM {table}), "
                    f"(SELECT last_value FROM {table}_id_seq)))"
                )
    return created


def _batches(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _day_ends(plan: Plan) -> Iterator[int]:
    """The last application index of each day that has one."""
    last_day = -1
    for d in range(plan.days + 1):
        first = (d * plan.apps + plan.days - 1) // plan.days
        if first >= plan.apps:
            break
        if d > last_day and first > 0:
            yield first - 1
        last_day = d
    if plan.apps:
        yield plan.apps - 1


# ---------------------------------------------------------------------------------------------------------
# Deferred indexes (PostgreSQL)


@dataclass(frozen=True)
class DeferredIndex:
    """A secondary index of a written table, as PostgreSQL describes it, to build again after the load.
    `constraint` is set when the index backs a unique constraint (made again as that constraint)."""

    table: str
    name: str
    definition: str  # pg_get_indexdef: CREATE [UNIQUE] INDEX name ON table USING ...
    constraint: str = ""  # pg_get_constraintdef: UNIQUE (...), when a constraint owns the index

    def drop_sql(self) -> str:
        if self.constraint:
            return f'ALTER TABLE "{self.table}" DROP CONSTRAINT "{self.name}"'
        return f'DROP INDEX "{self.name}"'

    def create_sql(self) -> str:
        if self.constraint:
            return f'ALTER TABLE "{self.table}" ADD CONSTRAINT "{self.name}" {self.constraint}'
        return self.definition


def deferrable_indexes(cur: Any, tables: Sequence[str]) -> list[DeferredIndex]:
    """The secondary indexes of `tables` that nothing else depends on: not primary keys, and not an index
    a foreign key of another table references (those stay, and are maintained row by row)."""
    cur.execute(
        """
        SELECT t.relname, i.relname, pg_get_indexdef(i.oid), COALESCE(pg_get_constraintdef(c.oid), '')
        FROM pg_index x
        JOIN pg_class i ON i.oid = x.indexrelid
        JOIN pg_class t ON t.oid = x.indrelid
        JOIN pg_namespace n ON n.oid = t.relnamespace AND n.nspname = current_schema()
        LEFT JOIN pg_constraint c ON c.conindid = i.oid AND c.contype IN ('u', 'p', 'x')
        WHERE t.relname = ANY(%s) AND NOT x.indisprimary
          AND NOT EXISTS (SELECT 1 FROM pg_constraint f WHERE f.contype = 'f' AND f.conindid = i.oid)
        ORDER BY t.relname, i.relname
        """,
        [list(tables)],
    )
    return [
        DeferredIndex(table, name, definition, constraint)
        for table, name, definition, constraint in cur.fetchall()
    ]


def drop_indexes(indexes: Sequence[DeferredIndex], keep: Path) -> None:
    """Write the definitions to `keep` (JSON, for `--restore-indexes` after a run that was killed), then
    drop the indexes, in one transaction."""
    from django.db import connection, transaction

    keep.parent.mkdir(parents=True, exist_ok=True)
    keep.write_text(json.dumps([dataclasses.asdict(ix) for ix in indexes], ensure_ascii=False, indent=1))
    with transaction.atomic(), connection.cursor() as cur:
        for ix in indexes:
            cur.execute(ix.drop_sql())


def build_indexes(indexes: Sequence[DeferredIndex], say: Callable[[str], None]) -> float:
    """Build the indexes again (each from a sort of its table, with PostgreSQL's parallel workers), those
    that are missing only, so that a restore can be run again; returns the seconds taken."""
    from django.db import connection

    started = time.monotonic()
    with connection.cursor() as cur:
        cur.execute("SET maintenance_work_mem = '1GB'")
        cur.execute("SET max_parallel_maintenance_workers = 2")
        cur.execute("SELECT relname FROM pg_class WHERE relkind = 'i'")
        present = {row[0] for row in cur.fetchall()}
        for ix in indexes:
            if ix.name in present:
                continue
            t0 = time.monotonic()
            cur.execute(ix.create_sql())
            say(f"index {ix.name} on {ix.table}: {time.monotonic() - t0:,.1f} s")
        cur.execute("RESET maintenance_work_mem")
        cur.execute("RESET max_parallel_maintenance_workers")
    return time.monotonic() - started


def restore_indexes(keep: Path, say: Callable[[str], None]) -> float:
    """Build the indexes a killed `--defer-indexes` run left dropped, from the definitions it kept."""
    indexes = [DeferredIndex(**item) for item in json.loads(keep.read_text())]
    return build_indexes(indexes, say)


# ---------------------------------------------------------------------------------------------------------
# Entry points


@dataclass(frozen=True)
class Result:
    motor_policies: int
    life_policies: int
    rows: int
    seconds: float
    plan: Plan
    chunks: tuple[tuple[str, int, int], ...] = ()  # (kind, first index, end) of each chunk written
    stopped: str = ""  # why the run ended before every chunk was written
    sequences: tuple[str, ...] = ()  # number sequences the run created (names)
    index_seconds: float = 0.0  # of `seconds`: building the deferred indexes again

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


def _dsn() -> str | None:
    from django.db import connection

    if connection.vendor != "postgresql":
        return None
    s = connection.settings_dict
    parts = {
        "dbname": s["NAME"],
        "user": s.get("USER"),
        "password": s.get("PASSWORD"),
        "host": s.get("HOST"),
        "port": s.get("PORT"),
    }
    return " ".join(f"{k}={v}" for k, v in parts.items() if v)


def generate(
    *,
    motor: int,
    life: int,
    workers: int = 1,
    chunk: int = 5000,
    seed: int = 20261207,
    marks: bool = True,
    today: dt.date | None = None,
    max_seconds: float = 0,
    progress: Callable[[str], None] | None = None,
    defer_indexes: Path | None = None,
) -> Result:
    """Generate about `motor` motor policies (whole applications: at most one over) and `life` life
    policies into Django's default database. Runs in this process when workers <= 1 (tests).

    `defer_indexes` (PostgreSQL): drop the written tables' secondary indexes first, keeping their
    definitions in that file, and build them again once the chunks are written (also after Ctrl-C or
    --max-seconds; after kill -9, `--restore-indexes FILE`)."""
    from django.db import connection

    from epolicy.common import clock

    apps = applications_for(motor)
    firsts = _reserve(Plan(apps, life, dt.date(2000, 1, 1), seed, marks, 0, 0, 0, 0, 0, 0, 0, 0).spans())
    plan = Plan(
        apps=apps,
        life=life,
        today=today or clock.today(),
        seed=seed,
        marks=marks,
        customer0=firsts["customer"],
        application0=firsts["application"],
        policy0=firsts["policy"],
        version0=firsts["version"],
        archive0=firsts["archive"],
        endorsement0=firsts["endorsement"],
        life0=firsts["life"],
        lifeversion0=firsts["lifeversion"],
    )
    motor_tasks = [("motor", lo, min(lo + chunk, apps)) for lo in range(0, apps, chunk)]
    life_chunk = chunk * 2
    life_tasks = [("life", lo, min(lo + life_chunk, life)) for lo in range(0, life, life_chunk)]
    # Motor chunks in a random order, so that a run stopped early (Ctrl-C, --max-seconds) spans the whole
    # period (applications are in time order: a prefix would be the oldest years only); interleaved with
    # the life chunks, so that it holds both kinds in proportion. A chunk's rows follow from their
    # indexes alone, whatever the order.
    random.Random(seed).shuffle(motor_tasks)
    tasks: list[tuple[str, int, int]] = []
    step = len(motor_tasks) / max(1, len(life_tasks))
    for n, task in enumerate(life_tasks):
        tasks += motor_tasks[round(n * step) : round((n + 1) * step)]
        tasks.append(task)
    tasks += motor_tasks[round(len(life_tasks) * step) :] if life_tasks else motor_tasks
    started = time.monotonic()
    done = {"motor": 0, "life": 0}
    rows_done = 0
    last_print = 0.0
    say = progress or (lambda _text: None)
    dsn = _dsn()
    deferred: list[DeferredIndex] = []
    if defer_indexes is not None and connection.vendor == "postgresql":
        with connection.cursor() as cur:
            deferred = deferrable_indexes(cur, list(TABLES))
        drop_indexes(deferred, defer_indexes)
        say(f"{len(deferred)} indexes dropped until the load is done (definitions in {defer_indexes})")
    if workers <= 1 or dsn is None:
        _worker_init(plan, None)
        results: Iterator[tuple[str, int, int, int, int]] = map(_run_chunk, tasks)
        pool = None
    else:
        connection.close()
        pool = multiprocessing.get_context("fork").Pool(workers, _worker_init, (plan, dsn))
        results = pool.imap_unordered(_run_chunk, tasks)
    completed: list[tuple[str, int, int]] = []
    stopped = ""
    try:
        for kind, lo, hi, policies, rows in results:
            completed.append((kind, lo, hi))
            done[kind] += policies
            rows_done += rows
            now = time.monotonic()
            if now - last_print >= 10 or (done["motor"] + done["life"]) == 0:
                last_print = now
                elapsed = now - started
                say(
                    f"{elapsed:7.0f} s  motor {done['motor']:>10,}  life {done['life']:>9,}  "
                    f"rows {rows_done:>11,}  {rows_done / elapsed:>8,.0f} rows/s  "
                    f"load {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
                )
            if max_seconds and now - started > max_seconds and len(completed) < len(tasks):
                stopped = f"stopped after {max_seconds:,.0f} s (--max-seconds)"
                break
    except KeyboardInterrupt:
        stopped = "interrupted"
    finally:
        if pool is not None:
            if stopped:
                pool.terminate()  # chunks in flight roll back: their connections close uncommitted
            else:
                pool.close()
            pool.join()
        conn = _worker.pop("conn", None)
        if conn is not None:
            conn.close()
    written = time.monotonic() - started
    index_seconds = 0.0
    if deferred:
        say(f"{written:7.0f} s  rows written; building {len(deferred)} indexes")
        index_seconds = build_indexes(deferred, say)
    seconds = time.monotonic() - started
    sequences = _finish_sequences(plan)
    return Result(
        done["motor"],
        done["life"],
        rows_done,
        seconds,
        plan,
        tuple(sorted(completed)),
        stopped,
        tuple(sequences),
        index_seconds,
    )


def remove(result: Result) -> None:
    """Delete what a run wrote (its key ranges and the number sequences it created): for tests."""
    from django.db import connection, transaction

    from epolicy.common.models import Sequence

    plan, spans = result.plan, result.plan.spans()
    order = ("endorsement", "version", "policy", "application", "archive", "customer", "lifeversion", "life")
    firsts = {
        "customer": plan.customer0,
        "application": plan.application0,
        "policy": plan.policy0,
        "version": plan.version0,
        "archive": plan.archive0,
        "endorsement": plan.endorsement0,
        "life": plan.life0,
        "lifeversion": plan.lifeversion0,
    }
    with transaction.atomic(), connection.cursor() as cur:
        for name in order:
            cur.execute(
                f"DELETE FROM {SEQUENCED[name]} WHERE id BETWEEN %s AND %s",  # noqa: S608 - our names
                [firsts[name], firsts[name] + spans[name]],
            )
        for batch in _batches(list(result.sequences), 500):
            Sequence.objects.filter(name__in=batch).delete()


def sample_policy(plan: Plan, i: int) -> tuple[str, str, str]:
    """(policy number, applicant's ID number, plate) of the first policy of application i."""
    p = i % plan.persons
    who = person(p, plan.seed)
    car = vehicle(p, plan.seed, who.region, plan.first_day)
    day = plan.first_day + dt.timedelta(days=plan.day_of(i))
    code = MIX_PATTERN[i % 100][0]
    return f"{POLICY_PREFIX[code]}{day:%Y%m%d}{plan.counter_of(i):06d}", who.id_number, car.plate


def _sample(result: Result, kind: str, rng: random.Random) -> int | None:
    chunks = [(lo, hi) for k, lo, hi in result.chunks if k == kind]
    if not chunks:
        return None
    lo, hi = rng.choice(chunks)
    return rng.randrange(lo, hi)


def check(result: Result, samples: int = 20) -> list[str]:
    """Find generated policies through the platform's selectors; returns what failed (empty: none)."""
    from epolicy.backoffice import search
    from epolicy.policies.selectors import policy_find
    from epolicy.servicing.selectors import policies_of_applicant

    problems: list[str] = []
    plan = result.plan
    rng = random.Random(plan.seed + 99)
    for _ in range(samples):
        i = _sample(result, "motor", rng)
        if i is None:
            break
        number, id_number, plate = sample_policy(plan, i)
        try:
            found = policy_find(policy_number=number, id_number=id_number, plate=plate)
        except Exception as exc:
            problems.append(f"policy_find({number}): {exc!r}")
            continue
        if found.applicant.id_number != id_number or found.plate != plate:
            problems.append(f"{number}: decrypted fields differ")
        listed = search.policy_rows(search.ListQuery(search=search.Recognised("id_number", id_number)))
        if not listed.filter(number=number).exists():
            problems.append(f"{number}: not in the console list searched by ID number")
    j = _sample(result, "life", rng)
    if j is not None:
        p = j % plan.persons if j % 2 == 0 else 5 * plan.persons + j
        number = f"PL{plan.today:%Y}{j + 1:010d}"
        if not policies_of_applicant(person(p, plan.seed).id_number).filter(number=number).exists():
            problems.append(f"life {number}: not found by the applicant's ID number")
    return problems


def _interrupted(_signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--motor", type=int, default=100_000, help="motor policies (about)")
    parser.add_argument("--life", type=int, default=10_000, help="life policies")
    parser.add_argument("--workers", type=int, default=max(2, (os.cpu_count() or 2) + 1))
    parser.add_argument("--chunk", type=int, default=5000, help="applications per chunk (one transaction)")
    parser.add_argument("--seed", type=int, default=20261207)
    parser.add_argument("--no-marks", action="store_true", help="no archive rows for the 交强险 marks")
    parser.add_argument("--no-analyze", action="store_true")
    parser.add_argument("--max-seconds", type=float, default=0, help="stop writing after this long")
    parser.add_argument(
        "--defer-indexes",
        type=Path,
        metavar="FILE",
        help="PostgreSQL, a fresh database: drop the secondary indexes while loading, keep their "
        "definitions in FILE, build them again at the end",
    )
    parser.add_argument(
        "--restore-indexes",
        type=Path,
        metavar="FILE",
        help="only build the indexes a killed --defer-indexes run left dropped, then exit",
    )
    args = parser.parse_args(argv)
    # Ctrl-C and SIGTERM both stop the run as --max-seconds does (chunks in flight roll back, deferred
    # indexes are built again). A shell starts a background job with SIGINT ignored: it is taken back.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _interrupted)

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.db import connection

    print(
        f"database {connection.settings_dict['NAME']} ({connection.vendor}); {args.workers} workers",
        flush=True,
    )
    if args.restore_indexes is not None:
        took = restore_indexes(args.restore_indexes, lambda text: print(text, flush=True))
        print(f"indexes restored in {took:,.0f} s", flush=True)
        return 0
    result = generate(
        motor=args.motor,
        life=args.life,
        workers=args.workers,
        chunk=args.chunk,
        seed=args.seed,
        marks=not args.no_marks,
        max_seconds=args.max_seconds,
        progress=lambda text: print(text, flush=True),
        defer_indexes=args.defer_indexes,
    )
    print(
        f"generated {result.motor_policies:,} motor and {result.life_policies:,} life policies, "
        f"{result.rows:,} rows in {result.seconds:,.0f} s ({result.rows_per_second:,.0f} rows/s"
        + (
            f"; of the time, {result.index_seconds:,.0f} s building the indexes"
            if result.index_seconds
            else ""
        )
        + "); "
        f"load {' '.join(f'{x:.2f}' for x in os.getloadavg())}",
        flush=True,
    )
    if connection.vendor == "postgresql" and not args.no_analyze:
        started = time.monotonic()
        with connection.cursor() as cur:
            cur.execute("ANALYZE")
            cur.execute("SELECT pg_size_pretty(pg_database_size(current_database()))")
            size = cur.fetchone()[0]
        print(f"ANALYZE {time.monotonic() - started:,.0f} s; database size {size}", flush=True)
    if result.stopped:
        print(f"{result.stopped}: {len(result.chunks)} chunks written", flush=True)
    problems = check(result)
    print("check: " + ("; ".join(problems) if problems else "sample found through the platform's selectors"))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
