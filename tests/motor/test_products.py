"""Products over the API: 交强险 alone, 商业险 alone and both together, the five form versions' vehicles,
every kind of applicant, unregistered new cars; coded refusals for anything unknown."""

from __future__ import annotations

import datetime as dt
import random
import subprocess
from decimal import Decimal

import pytest

from epolicy.archive.services import archive_read
from epolicy.common.identifiers import id_number_check_char, uscc_check_char, vin_check_digit
from epolicy.motor.issuance import policy_issue
from epolicy.motor.models import Application
from epolicy.notifications.models import SmsMessage
from epolicy.policies.models import Policy
from epolicy.policies.selectors import policy_find
from epolicy.signing.verify.document import verify_pdf
from tests.conftest import application_payload
from tests.motor.test_api_journey import API, otp_ok, pay, read_all, sign

pytestmark = pytest.mark.django_db

COVERAGES = [
    {"code": "damage"},
    {"code": "third_party", "amount": "1000000"},
    {"code": "driver", "amount": "10000"},
    {"code": "passenger", "amount": "10000", "seats": 4},
    {"code": "scratch", "amount": "2000"},
]
BOTH = [{"code": "ctpl"}, {"code": "commercial", "coverages": COVERAGES}]


def vin_ending(digit: str, seed: int = 1) -> str:
    """A VIN with a valid check digit whose last digit picks the sandbox claim history."""
    rng = random.Random(seed)
    body = "LSV" + "".join(rng.choice("ABCDEFGHJKLMNPRSTUVWXYZ0123456789") for _ in range(5))
    tail = "".join(rng.choice("0123456789") for _ in range(7)) + digit
    return body + vin_check_digit(body + "0" + tail) + tail


def resident_id(birth: str, seq: str = "123") -> str:
    first17 = f"110105{birth}{seq}"
    return first17 + id_number_check_char(first17)


def uscc() -> str:
    first17 = "91110105" + "MA01ABCD" + "0"
    return first17 + uscc_check_char(first17)


def payload(*, products=None, vehicle=None, seed=7, **overrides):
    body = application_payload(seed, **overrides)
    body["vehicle"] = {
        k: (str(v) if isinstance(v, Decimal) else v) for k, v in body["vehicle"].items() if v is not None
    }
    body["vehicle"].update({"new_car_price": "150000.00", **(vehicle or {})})
    if products is not None:
        body["products"] = products
    return body


def create(system, body):
    return system.post(f"{API}/motor/applications", body)


def journey(client, system, body) -> list[Policy]:
    """Create, approve, read every document, sign, SMS code, pay: the policies issued."""
    resp = create(system, body)
    assert resp.status_code == 201, resp.content
    number = resp.json()["number"]
    resp = system.post(f"{API}/motor/applications/{number}/approve")
    assert resp.status_code == 200, resp.content
    token = resp.json()["customer_url"].rstrip("/").rsplit("/", 1)[-1]
    read_all(client, token)
    assert sign(client, token).status_code == 200
    otp_ok(client, token)
    pay(client, token)
    app = Application.objects.get(number=number)
    policy_issue(application_id=app.pk)  # idempotent: the payment's job may have issued already
    return list(Policy.objects.filter(application=app).order_by("pk"))


def pdf_text(data: bytes, tmp_path) -> str:
    path = tmp_path / "doc.pdf"
    path.write_bytes(data)
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True).stdout


# --- refusals ---------------------------------------------------------------------------------------


def test_an_unknown_field_is_refused_never_ignored(system):
    body = payload()
    body["product"] = "commercial"  # the old mistake: was answered 201 as a 交强险-only application
    resp = create(system, body)
    assert resp.status_code == 422 and resp.json()["code"] == "validation_error"
    assert Application.objects.count() == 0


def test_an_unknown_product_is_a_coded_422(system):
    resp = create(system, payload(products=[{"code": "travel"}]))
    assert resp.status_code == 422
    body = resp.json()
    assert body["code"] == "unknown_product" and body["details"]["field"] == "products[0].code"
    assert "交强险" in body["message"] and "商业险" in body["message"]


@pytest.mark.parametrize(
    ("products", "words"),
    [
        ([{"code": "commercial"}], "至少选择一个商业险主险"),
        ([{"code": "ctpl", "coverages": [{"code": "damage"}]}], "交强险的责任限额"),
        ([{"code": "ctpl"}, {"code": "ctpl"}], "重复"),
        ([], "请选择要投保的险种"),
    ],
)
def test_product_choices_that_make_no_sense_are_refused(system, products, words):
    resp = create(system, payload(products=products))
    assert resp.status_code == 422 and words in resp.json()["message"], resp.content


def test_an_unknown_coverage_and_a_rider_without_its_parent_are_refused_together(system):
    coverages = [
        {"code": "third_party", "amount": "1000000"},
        {"code": "jetpack"},
        {"code": "scratch", "amount": "2000"},
    ]
    resp = create(system, payload(products=[{"code": "commercial", "coverages": coverages}]))
    assert resp.status_code == 422
    errors = resp.json()["details"]["errors"]
    codes = {e["code"] for e in errors}
    assert "coverage_unknown" in codes and "rider_parent_missing" in codes
    # Named in the request's own terms: the product's place, then the coverage's.
    fields = {e["field"] for e in errors}
    assert {"products[0].coverages[1].code", "products[0].coverages[2].code"} <= fields


def test_every_bad_field_is_reported_at_once(system):
    body = payload()
    body["applicant"]["id_number"] = "110105199001011234"  # wrong check character
    body["applicant"]["email"] = "not-an-address"
    body["vehicle"]["plate"] = "京A1"
    body["vehicle"]["engine_number"] = "!"
    resp = create(system, body)
    assert resp.status_code == 422
    data = resp.json()
    fields = {e["field"] for e in data["details"]["errors"]}
    assert {"applicant.id_number", "applicant.email", "vehicle.plate", "vehicle.engine_number"} <= fields
    assert data["code"] == "validation_error" and "4 处需要修改" in data["message"]


def test_commercial_cover_needs_the_new_car_price(system):
    body = payload(products=BOTH)
    del body["vehicle"]["new_car_price"]
    resp = create(system, body)
    assert resp.status_code == 422 and resp.json()["details"]["field"] == "vehicle.new_car_price"


def test_production_refuses_to_quote_on_unconfirmed_tables(system, settings, tomorrow):
    settings.MOTOR_ALLOW_UNCONFIRMED_RATES = False
    resp = create(system, payload(products=BOTH))
    assert resp.status_code == 422 and resp.json()["code"] == "rate_table_unconfirmed"
    assert resp.json()["details"]["unconfirmed"]
    # 交强险 alone uses only confirmed tables: still sold.
    assert create(system, payload()).status_code == 201


# --- quotes -----------------------------------------------------------------------------------------


def quote(system, body):
    keys = ("vehicle", "region_code", "floating_code", "period_start", "products", "single_trip")
    return system.post(f"{API}/motor/quotes", {k: body[k] for k in keys if k in body})


def test_a_quote_of_both_products_adds_them_up_and_says_what_is_unconfirmed(system):
    resp = quote(system, payload(products=BOTH))
    assert resp.status_code == 200, resp.content
    q = resp.json()
    assert q["products"] == ["ctpl", "commercial"]
    commercial = q["commercial"]
    assert Decimal(q["premium"]) == Decimal(q["ctpl_premium"]) + Decimal(commercial["total"])
    assert Decimal(q["total_due"]) == Decimal(q["premium"]) + Decimal(q["vehicle_tax"])
    assert sum(Decimal(line["premium"]) for line in commercial["lines"]) == Decimal(commercial["total"])
    assert q["unconfirmed"] and any("demo" in item for item in q["unconfirmed"])
    # Own damage is insured at the depreciated value: 150,000 less 0.6 % a whole month in use.
    value = commercial["actual_value"]
    expected = Decimal("150000") - Decimal("150000") * value["months"] * Decimal("0.006")
    assert Decimal(value["value"]) == expected.quantize(Decimal("0.01"))


@pytest.mark.parametrize(("digit", "level"), [("0", 0), ("1", -1), ("3", -3), ("5", 1), ("7", 3), ("8", 0)])
def test_ncd_follows_the_claim_history_from_the_provider(system, digit, level):
    body = payload(
        products=[{"code": "commercial", "coverages": COVERAGES}], vehicle={"vin": vin_ending(digit)}
    )
    body["region_code"] = "440100"  # 广东: the national 10 levels
    resp = quote(system, body)
    assert resp.status_code == 200, resp.content
    assert resp.json()["commercial"]["ncd_level"] == level


def test_a_timeout_of_the_claim_history_platform_is_a_503_and_a_retry_succeeds(system):
    body = payload(
        products=[{"code": "commercial", "coverages": COVERAGES}], vehicle={"vin": vin_ending("9")}
    )
    first = quote(system, body)
    assert first.status_code == 503 and first.json()["code"] == "claims_history_unavailable"
    assert quote(system, body).status_code == 200


# --- end to end ---------------------------------------------------------------------------------------


def test_both_products_one_signature_one_payment_two_sealed_policies(client, system, pki, tmp_path):
    policies = journey(client, system, payload(products=BOTH))
    assert [p.product for p in policies] == ["ctpl", "commercial"]
    ctpl, commercial = policies
    assert ctpl.number.startswith("PDZA") and commercial.number.startswith("PDAA")
    app = ctpl.application
    assert app.payments.count() == 1 and app.evidence.filter(kind="signature").count() == 1
    assert ctpl.premium + commercial.premium == app.premium
    assert ctpl.vehicle_tax == app.vehicle_tax and commercial.vehicle_tax == 0
    for policy in policies:
        data = archive_read(policy.document)
        report = verify_pdf(data)
        assert report.genuine and report.document_number == policy.number, report
        path = tmp_path / f"{policy.number}.pdf"
        path.write_bytes(data)
        assert subprocess.run(["qpdf", "--check", str(path)], capture_output=True).returncode == 0
    text = pdf_text(archive_read(commercial.document), tmp_path)
    for words in (
        "机动车商业保险单",
        "机动车损失保险",
        "第三者责任保险",
        "附加车身划痕损失险",
        "无赔款优待系数",
    ):
        assert words in text, words
    assert "代收车船税" not in text
    assert "代收车船税" in pdf_text(archive_read(ctpl.document), tmp_path)
    # The applicant read the commercial clauses before signing.
    assert app.reads.filter(code="commercial_terms").exists()
    # The link went out by SMS at approval (motor standard 4.2.4 a).
    assert any("/m/a/" in m.text for m in SmsMessage.objects.all())


def test_commercial_alone_is_one_policy_without_vehicle_tax(client, system, pki):
    (policy,) = journey(client, system, payload(products=[{"code": "commercial", "coverages": COVERAGES}]))
    assert policy.product == "commercial" and policy.vehicle_tax == 0
    assert policy.application.total_due == policy.premium


VEHICLES = {
    "standard": {},
    "nev": {"energy_type": "bev", "displacement_l": "0"},
    "special": {"use_category": "special_2", "curb_weight_t": "8.50", "displacement_l": "6.00", "seats": 2},
    "motorcycle_tractor": {
        "use_category": "motorcycle",
        "displacement_cc": 150,
        "displacement_l": "0.15",
        "seats": 2,
    },
}
TITLES = {
    "standard": "机动车商业保险/机动车交通事故责任强制保险投保单",
    "nev": "新能源汽车商业保险/机动车交通事故责任强制保险投保单",
    "special": "特种车商业保险/机动车交通事故责任强制保险投保单",
    "motorcycle_tractor": "摩托车、拖拉机商业保险/机动车交通事故责任强制保险投保单",
}


@pytest.mark.parametrize("version", list(VEHICLES))
def test_each_form_version_is_chosen_by_the_vehicle_and_issues(client, system, pki, tmp_path, version):
    coverages = [{"code": "third_party", "amount": "500000"}]
    products = [{"code": "ctpl"}, {"code": "commercial", "coverages": coverages}]
    policies = journey(client, system, payload(products=products, vehicle=VEHICLES[version]))
    app = policies[0].application
    assert app.form_version == version
    form = pdf_text(archive_read(app.form_document), tmp_path)
    assert TITLES[version].replace("/", "") in form.replace("/", "").replace(" ", "")
    for policy in policies:
        assert verify_pdf(archive_read(policy.document)).genuine


def test_a_special_vehicle_pays_vehicle_tax_by_curb_weight_not_the_car_band(system):
    resp = quote(system, payload(vehicle=VEHICLES["special"]))
    assert resp.status_code == 200, resp.content
    # Beijing, 专用作业车: 96 yuan a ton (demo figure) × 8.5 t, never the 5,280 of a 6.0 L car.
    assert Decimal(resp.json()["vehicle_tax"]) == Decimal("816.00")


def test_an_enterprise_applicant_with_a_credit_code(client, system, pki):
    body = payload(products=BOTH)
    body["applicant"].update({"id_type": "uscc", "id_number": uscc(), "name": "示例科技有限公司"})
    body["vehicle"]["use_category"] = "enterprise_passenger"
    (ctpl, _commercial) = journey(client, system, body)
    assert ctpl.applicant.id_type == "uscc"
    text = str(ctpl.versions.get().data)
    assert "统一社会信用代码" in text


def test_a_foreign_applicant_with_a_passport(client, system, pki):
    body = payload()
    body["applicant"].update({"id_type": "passport", "id_number": "E12345678", "name": "John Smith"})
    (policy,) = journey(client, system, body)
    assert policy.applicant.id_type == "passport"
    assert policy_find(policy_number=policy.number, id_number="E12345678", plate=policy.plate) == policy


def test_a_bad_passport_number_is_refused_in_chinese(system):
    body = payload()
    body["applicant"].update({"id_type": "passport", "id_number": "E1"})
    resp = create(system, body)
    assert resp.status_code == 422 and "护照号码" in resp.json()["message"]


def test_an_unregistered_new_car_is_insured_by_vin_and_invoice_date(client, system, pki, tmp_path):
    invoice = dt.date.today() - dt.timedelta(days=3)
    body = payload(
        products=BOTH, vehicle={"plate": "", "unregistered": True, "registered_on": invoice.isoformat()}
    )
    ctpl, commercial = journey(client, system, body)
    assert ctpl.plate == "" and ctpl.application.unregistered
    assert "新车未上牌" in pdf_text(archive_read(ctpl.document), tmp_path)
    # A new car has no depreciation yet and starts at NCD level 0 … unless its VIN had history.
    assert commercial.application.quote["commercial"]["actual_value"]["months"] == 0


def test_a_plate_on_an_unregistered_car_is_refused(system):
    resp = create(system, payload(vehicle={"unregistered": True}))
    assert resp.status_code == 422 and resp.json()["details"]["field"] == "vehicle.plate"


def test_applicant_insured_and_owner_all_differ_and_the_insured_can_query(client, system, pki):
    body = payload(products=BOTH)
    insured_id = resident_id("19800202", "234")
    owner_id = resident_id("19750303", "345")
    body["insured"] = {"name": "钱七", "id_number": insured_id, "phone": "13900001111"}
    body["owner"] = {"name": "孙八", "id_number": owner_id, "phone": "13900002222"}
    ctpl, commercial = journey(client, system, body)
    app = ctpl.application
    assert len({app.applicant_id, app.insured_id, app.owner_id}) == 3
    for policy in (ctpl, commercial):
        assert policy_find(policy_number=policy.number, id_number=insured_id, plate=policy.plate) == policy


# --- 单程提车 -----------------------------------------------------------------------------------------


def trip_body(days=10):
    invoice = dt.date.today() - dt.timedelta(days=1)
    body = payload(
        products=[
            {"code": "ctpl"},
            {"code": "commercial", "coverages": [{"code": "third_party", "amount": "500000"}]},
        ],
        vehicle={"plate": "", "unregistered": True, "registered_on": invoice.isoformat()},
    )
    body["single_trip"] = {"days": days, "route": "北京市朝阳区经销店至河北省廊坊市车管所"}
    return body


def test_a_single_trip_is_short_and_priced_from_the_annual_premiums(system):
    body = trip_body(days=10)
    q = quote(system, body).json()
    annual = quote(system, {k: v for k, v in body.items() if k != "single_trip"}).json()
    assert q["single_trip_days"] == 10
    assert dt.date.fromisoformat(q["period_end"]) - dt.date.fromisoformat(q["period_start"]) == dt.timedelta(
        days=9
    )
    # 交强险: the first month's 10 % of the annual premium; 商业险: pro rata by day.
    assert Decimal(q["ctpl_premium"]) == (Decimal(annual["ctpl_premium"]) * Decimal("0.10")).quantize(
        Decimal("0.01")
    )
    commercial = Decimal(annual["commercial"]["total"]) * 10 / 365
    assert Decimal(q["commercial"]["premium"]) == commercial.quantize(Decimal("0.01"))
    assert any("单程提车" in item for item in q["unconfirmed"])


def test_a_single_trip_issues_on_its_own_form_version(client, system, pki, tmp_path):
    policies = journey(client, system, trip_body())
    app = policies[0].application
    assert app.form_version == "pickup" and app.trip_days == 10
    form = pdf_text(archive_read(app.form_document), tmp_path).replace(" ", "")
    assert "机动车单程提车保险/机动车交通事故责任强制保险投保单" in form and "廊坊市车管所" in form
    for policy in policies:
        assert policy.period_end - policy.period_start == dt.timedelta(days=9)
        assert verify_pdf(archive_read(policy.document)).genuine


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"days": 31}, "single_trip.days"),
        ({"route": "近"}, "single_trip.route"),
    ],
)
def test_a_single_trip_out_of_bounds_is_refused(system, change, field):
    body = trip_body()
    body["single_trip"].update(change)
    resp = create(system, body)
    assert resp.status_code == 422 and resp.json()["details"]["field"] == field, resp.content


def test_a_single_trip_needs_an_unregistered_car(system):
    body = payload()
    body["single_trip"] = {"days": 5, "route": "北京市至天津市"}
    resp = create(system, body)
    assert resp.status_code == 422 and resp.json()["details"]["field"] == "vehicle.unregistered"


def test_the_own_charging_pile_riders_need_its_address_and_it_is_printed(client, system, pki, tmp_path):
    nev = {"energy_type": "bev", "displacement_l": "0", "battery_capacity_kwh": "75.0"}
    coverages = [{"code": "damage"}, {"code": "charger_damage", "amount": "5000"}]
    body = payload(products=[{"code": "commercial", "coverages": coverages}], vehicle=nev)
    resp = create(system, body)
    assert resp.status_code == 422 and resp.json()["details"]["field"] == "vehicle.charger_address"
    body["vehicle"]["charger_address"] = "北京市朝阳区示例街道 8 号院地下车库 B2-018"
    (policy,) = journey(client, system, body)
    text = pdf_text(archive_read(policy.document), tmp_path)
    assert "动力电池容量" in text and "75.0 kWh" in text and "自用充电桩地址" in text
    assert "B2-018" not in text  # the address is masked on the policy, kept whole (encrypted) in the database


def test_battery_and_charger_only_on_a_new_energy_vehicle(system):
    resp = create(system, payload(vehicle={"battery_capacity_kwh": "60.0"}))
    assert resp.status_code == 422 and resp.json()["details"]["field"] == "vehicle.energy_type"


def test_the_signed_application_form_from_the_archive_verifies(client, system, pki):
    """It used to be answered policy_not_found: a signed 投保单 names its application, not a policy."""
    from epolicy.verification.services import verify_document

    (ctpl, _commercial) = journey(client, system, payload(products=BOTH))
    app = ctpl.application
    result = verify_document(archive_read(app.signed_document), bounded=False)
    assert result.genuine and result.code == "genuine", result.as_json()
    data = result.as_json()
    assert data["document_kind"] == "application" and data["document_number"] == app.number
    assert data["byte_identical_to_archive"] is True
    assert data["application"]["products"] == ["机动车交通事故责任强制保险", "机动车商业保险"]
    assert data["application"]["policies"] == [p.number for p in app.policies.order_by("pk")]
    # The commercial policy says what it is.
    assert verify_document(archive_read(_commercial.document), bounded=False).as_json()["policy"][
        "product"
    ] == ("机动车商业保险")
