"""The applicant's pages for 交强险 + 商业险: what is bought (coverage lines, totals, the demo note), the
commercial clauses among the documents, and after issuance every policy with its own download."""

from decimal import Decimal

import pytest

from epolicy.archive.services import archive_read
from epolicy.motor import services
from epolicy.motor.demo import demo_commercial_input
from epolicy.motor.display import money
from epolicy.motor.journey import run_journey
from epolicy.policies.models import Policy

pytestmark = pytest.mark.django_db


def test_the_application_page_shows_what_is_bought(client, pki):
    app = services.application_create(data=demo_commercial_input("family", 31), actor="test")
    app, _token = services.application_approve(application_id=app.pk, actor="test")
    html = client.get(f"/m/a/{app.access_token}/").content.decode()
    assert "交强险、商业险" in html
    assert f'data-product="ctpl">{money(Decimal(app.quote["ctpl_premium"]))}<' in html
    assert f'id="commercial-total">{money(Decimal(app.quote["commercial"]["total"]))}<' in html
    for words in ("机动车损失保险", "机动车第三者责任保险", "附加车身划痕损失险", "无赔款优待系数"):
        assert words in html, words
    assert 'id="demo-note"' in html and "仅供演示" in html
    assert "机动车商业保险" in html and 'data-doc="commercial_terms"' in html
    assert f'id="total-due">{money(app.total_due)}<' in html


def test_a_nev_application_shows_the_nev_cover_and_clauses(client, pki):
    app = services.application_create(data=demo_commercial_input("nev", 32), actor="test")
    app, _token = services.application_approve(application_id=app.pk, actor="test")
    html = client.get(f"/m/a/{app.access_token}/").content.decode()
    assert "新能源汽车损失保险" in html and "附加外部电网故障损失险" in html
    assert 'data-doc="nev_commercial_terms"' in html


def test_after_issuance_every_policy_is_shown_with_its_own_download(client, pki):
    first = run_journey(demo_commercial_input("family", 33))
    app = first.application
    policies = list(Policy.objects.filter(application=app).order_by("pk"))
    assert len(policies) == 2
    html = client.get(f"/m/a/{app.access_token}/").content.decode()
    assert "2 份电子保单" in html
    for policy in policies:
        url = f"/m/a/{app.access_token}/policy/{policy.number}.pdf"
        assert policy.number in html and url in html
        resp = client.get(url)
        assert resp.status_code == 200 and resp.content == archive_read(policy.document)
        assert policy.number in resp["Content-Disposition"]
    # Another application's number is not served through this link.
    other = run_journey(demo_commercial_input("nev", 34))
    assert client.get(f"/m/a/{app.access_token}/policy/{other.number}.pdf").status_code == 404
