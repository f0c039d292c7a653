"""Staff create a motor application in the console: 试算 shows the quote (lines, NCD, coefficients, the
demo/unconfirmed warning), 提交 keeps it; every refusal is shown next to its field with what was typed;
the demo buttons for 交强险+商业险; the application page shows products, cover and every policy."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model

from epolicy.motor.demo import demo_application_input, demo_commercial_input
from epolicy.motor.journey import run_journey
from epolicy.motor.models import Application
from epolicy.policies.models import Policy
from tests.motor.test_products import vin_ending

pytestmark = pytest.mark.django_db

NEW = "/console/applications/new/"


@pytest.fixture
def staff(client):
    user = get_user_model().objects.create_user("alice", password="pw-123456", is_staff=True)
    client.force_login(user)
    return user


def form_data(seed=7, *, action="quote", vin_digit="2", **overrides):
    """What staff type for a family car buying 交强险 and 商业险 (车损 + 三者 100万)."""
    d = demo_application_input(seed)
    data = {
        "applicant.id_type": "resident_id",
        "applicant.name": d.applicant.name,
        "applicant.id_number": d.applicant.id_number,
        "applicant.phone": d.applicant.phone,
        "applicant.email": d.applicant.email,
        "applicant.address": d.applicant.address,
        "vehicle.plate": d.vehicle.plate,
        "vehicle.vin": vin_ending(vin_digit, seed),
        "vehicle.engine_number": d.vehicle.engine_number,
        "vehicle.brand_model": d.vehicle.brand_model,
        "vehicle.use_category": "family_private",
        "vehicle.energy_type": "fuel",
        "vehicle.seats": "5",
        "vehicle.displacement_l": "1.50",
        "vehicle.registered_on": d.vehicle.registered_on.isoformat(),
        "vehicle.new_car_price": "150000",
        "region_code": "110000",
        "period_start": d.period_start.isoformat(),
        "floating_code": "A2",
        "products": ["ctpl", "commercial"],
        "cov": ["damage", "third_party"],
        "cov.third_party.amount": "1000000",
        "action": action,
    }
    data.update(overrides)
    return data


def quoted_total(html: str) -> str:
    match = re.search(r'name="quoted_total" value="([0-9.]+)"', html)
    assert match, "no quote on the page"
    return match.group(1)


def error_for(html: str, field: str) -> str:
    """The messages shown next to one field (data-error-for)."""
    return " ".join(re.findall(rf'data-error-for="{re.escape(field)}">([^<]*)<', html))


def submit(client, data):
    page = client.post(NEW, {**data, "action": "quote"})
    assert page.status_code == 200, page.content.decode()
    return client.post(NEW, {**data, "action": "submit", "quoted_total": quoted_total(page.content.decode())})


def test_the_form_and_the_demo_buttons_need_a_staff_login(client):
    for resp in (
        client.get(NEW),
        client.post(NEW, form_data()),
        client.post("/console/applications/demo/nev/"),
    ):
        assert resp.status_code == 302 and resp["Location"].startswith("/console/login/")
    assert Application.objects.count() == 0


def test_the_form_offers_the_catalogue_for_the_vehicle(client, staff):
    html = client.get(NEW).content.decode()
    assert 'name="applicant.id_type"' in html and "统一社会信用代码" in html and "护照" in html
    assert 'name="vehicle.new_car_price"' in html and 'name="vehicle.unregistered"' in html
    assert (
        'value="ctpl" id="p-ctpl" checked' in html and 'value="commercial" id="p-commercial" checked' in html
    )
    assert "机动车损失保险" in html and "附加车身划痕损失险" in html
    # NEV riders are listed for the page to offer when the energy type changes, hidden for a fuel car.
    row = re.search(r'<tr id="cov-grid_failure"[^>]*>', html).group(0)
    assert "hidden" in row and 'data-name-nev2021="附加外部电网故障损失险"' in row
    assert 'data-name-nev2021="新能源汽车损失保险"' in html
    # The console's home links to the form next to the demo buttons.
    home = client.get("/console/").content.decode()
    for words in (
        "新建投保单",
        "新建演示投保单",
        "演示：家庭车 交强险+商业险",
        "演示：新能源车 交强险+商业险",
    ):
        assert words in home


def test_a_quote_shows_lines_coefficients_and_the_unconfirmed_warning_and_keeps_nothing(client, staff):
    resp = client.post(
        NEW, form_data(cov=["damage", "third_party", "scratch"], **{"cov.scratch.amount": "2000"})
    )
    html = resp.content.decode()
    assert resp.status_code == 200, html
    assert "试算结果" in html and 'id="unconfirmed-warning"' in html and "演示/未确认费率" in html
    assert "pure premiums: demo figures" in html
    for words in (
        "机动车损失保险",
        "机动车第三者责任保险",
        "附加车身划痕损失险",
        "无赔款优待系数（NCD）",
        "自主定价系数",
    ):
        assert words in html, words
    assert 'id="q-ctpl"' in html and 'id="q-commercial"' in html and 'id="do-submit"' in html
    assert Application.objects.count() == 0
    # What was chosen stays chosen.
    assert 'value="scratch" id="cov-scratch-on" checked' in html


def test_submit_after_the_quote_creates_the_application_with_both_products(client, staff):
    resp = submit(client, form_data(**{"pricing_coefficient": "0.9"}))
    assert resp.status_code == 302, resp.content.decode()
    app = Application.objects.get()
    assert resp["Location"] == f"/console/applications/{app.number}/"
    assert app.products == ["ctpl", "commercial"] and app.submitted_by == "staff:alice"
    commercial = app.quote["commercial"]
    assert [line["code"] for line in commercial["lines"]] == ["damage", "third_party"]
    assert commercial["pricing_coefficient"] == "0.9"
    html = client.get(resp["Location"]).content.decode()
    assert "机动车商业保险/机动车交通事故责任强制保险投保单" in html
    assert 'data-product="ctpl"' in html and 'data-product="commercial"' in html
    assert 'id="coverage-table"' in html and 'id="unconfirmed-warning"' in html


def test_a_premium_changed_since_the_quote_is_shown_again_and_nothing_is_kept(client, staff):
    resp = client.post(NEW, form_data(action="submit", quoted_total="1.00"))
    html = resp.content.decode()
    assert resp.status_code == 200 and "保费与上次试算不同" in html and 'id="do-submit"' in html
    assert Application.objects.count() == 0


def test_every_refusal_is_shown_next_to_its_field_and_what_was_typed_is_kept(client, staff):
    d = form_data()
    bad_id = d["applicant.id_number"][:-1] + ("0" if d["applicant.id_number"][-1] != "0" else "1")
    data = form_data(
        action="submit",
        quoted_total="0",
        **{
            "applicant.id_number": bad_id,
            "applicant.email": "not-an-address",
            "vehicle.plate": "京A1",
            "insured.name": "钱七",
        },
    )
    resp = client.post(NEW, data)
    html = resp.content.decode()
    assert resp.status_code == 422 and 'data-code="validation_error"' in html
    assert "身份证" in error_for(html, "applicant.id_number")
    assert error_for(html, "applicant.email") and error_for(html, "vehicle.plate")
    assert error_for(html, "insured.id_number") and error_for(html, "insured.phone")
    assert f'value="{bad_id}"' in html and 'value="not-an-address"' in html and 'value="京A1"' in html
    assert '<details class="card" open>' in html  # the insured's part opens to show its errors
    assert Application.objects.count() == 0


def test_coverage_refusals_are_shown_on_their_rows(client, staff):
    data = form_data(
        cov=["third_party", "grid_failure", "deductible@driver", "passenger"],
        **{"cov.passenger.amount": "10000", "cov.passenger.seats": "9", "cov.deductible@driver.rate": "0.10"},
    )
    resp = client.post(NEW, data)
    html = resp.content.decode()
    assert resp.status_code == 422, html
    assert "仅适用于新能源汽车" in error_for(html, "cov.grid_failure")
    assert "须同时投保" in error_for(html, "cov.deductible@driver")
    assert "座位数" in error_for(html, "cov.passenger.seats")
    # A refused row stays visible and chosen, so it can be corrected.
    row = re.search(r'<tr id="cov-grid_failure"[^>]*>', html).group(0)
    assert "hidden" not in row and 'value="grid_failure" id="cov-grid_failure-on" checked' in html
    assert 'id="do-submit"' not in html and Application.objects.count() == 0


def test_an_unknown_coverage_is_refused(client, staff):
    resp = client.post(NEW, form_data(cov=["damage", "jetpack"]))
    html = resp.content.decode()
    assert resp.status_code == 422
    assert "没有“jetpack”这一险种" in error_for(html, "coverages")
    resp = client.post(NEW, form_data(action="submit", quoted_total="0", cov=["damage", "jetpack"]))
    assert resp.status_code == 422 and Application.objects.count() == 0


def test_commercial_without_a_main_coverage_or_a_new_car_price_is_refused_by_field(client, staff):
    resp = client.post(NEW, form_data(cov=[]))
    assert resp.status_code == 422 and "主险" in error_for(resp.content.decode(), "coverages")
    resp = client.post(NEW, form_data(**{"vehicle.new_car_price": ""}))
    assert resp.status_code == 422 and "新车购置价" in error_for(
        resp.content.decode(), "vehicle.new_car_price"
    )
    resp = client.post(NEW, form_data(products=[], **{"vehicle.seats": "abc"}))
    html = resp.content.decode()
    assert resp.status_code == 422 and error_for(html, "products") and error_for(html, "vehicle.seats")


def test_a_nev_car_with_the_grid_failure_rider_from_the_form(client, staff):
    data = form_data(
        cov=["damage", "third_party", "grid_failure"],
        **{"vehicle.energy_type": "bev", "vehicle.displacement_l": "0", "vehicle.new_car_price": "230000"},
    )
    page = client.post(NEW, data)
    html = page.content.decode()
    assert page.status_code == 200, html
    assert "新能源汽车损失保险" in html and "附加外部电网故障损失险" in html
    assert "新能源汽车商业保险专属条款" in html
    resp = submit(client, data)
    assert resp.status_code == 302, resp.content.decode()
    app = Application.objects.get()
    assert app.form_version == "nev" and app.quote["commercial"]["clause_set"] == "nev2021"
    assert "grid_failure" in [line["code"] for line in app.quote["commercial"]["lines"]]


@pytest.mark.parametrize(
    ("kind", "form_version", "rider"), [("family", "standard", "scratch"), ("nev", "nev", "grid_failure")]
)
def test_the_demo_buttons_for_both_products(client, staff, kind, form_version, rider):
    resp = client.post(f"/console/applications/demo/{kind}/")
    app = Application.objects.get()
    assert resp.status_code == 302 and app.number in resp["Location"]
    assert app.products == ["ctpl", "commercial"] and app.form_version == form_version
    assert rider in [line["code"] for line in app.quote["commercial"]["lines"]]
    html = client.get(resp["Location"]).content.decode()
    assert 'id="coverage-table"' in html and "演示/未确认费率" in html


def test_an_unknown_demo_is_not_found(client, staff):
    assert client.post("/console/applications/demo/boat/").status_code == 404
    assert client.get("/console/applications/demo/nev/").status_code == 405


def test_the_application_page_lists_every_policy_after_issuance(client, staff, pki):
    first = run_journey(demo_commercial_input("family", 21))
    app = first.application
    policies = list(Policy.objects.filter(application=app).order_by("pk"))
    assert [p.product for p in policies] == ["ctpl", "commercial"]
    html = client.get(f"/console/applications/{app.number}/").content.decode()
    for policy in policies:
        assert f'data-product="{policy.product}">{policy.number}<' in html
    assert "交强险保单号" in html and "商业险保单号" in html
