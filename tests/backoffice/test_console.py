import pytest
from django.contrib.auth import get_user_model

from epolicy.motor.models import Application
from epolicy.notifications.models import SmsMessage

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(client):
    user = get_user_model().objects.create_user("alice", password="pw-123456", is_staff=True)
    client.force_login(user)
    return user


def test_console_needs_a_staff_login(client):
    resp = client.get("/console/")
    assert resp.status_code == 302 and resp["Location"].startswith("/console/login/")


def test_create_approve_and_show_the_qr(client, staff, pki):
    resp = client.post("/console/applications/demo/")
    number = Application.objects.get().number
    assert resp.status_code == 302 and number in resp["Location"]
    resp = client.post(f"/console/applications/{number}/approve/")
    assert resp.status_code == 302
    app = Application.objects.get()
    assert app.status == "approved" and app.approved_by == "staff:alice"
    page = client.get(f"/console/applications/{number}/").content.decode()
    assert app.access_token in page and "application.approved" in page
    qr = client.get(f"/console/applications/{number}/qr.png")
    assert qr["Content-Type"] == "image/png" and qr.content.startswith(b"\x89PNG")
    again = client.post(f"/console/applications/{number}/approve/")
    assert again.status_code == 409 and 'data-code="application_state"' in again.content.decode()


def test_sandbox_sms_outbox_is_visible(client, staff):
    SmsMessage.objects.create(
        provider="sandbox",
        phone="13812345678",
        phone_masked="138****5678",
        text="验证码 123456",
        created_at="2026-11-21T08:00:00+00:00",
    )
    page = client.get("/console/sms/").content.decode()
    assert "138****5678" in page and "验证码 123456" in page


def test_staff_session_can_use_the_api(client, staff, pki):
    from tests.conftest import application_payload

    resp = client.post("/api/v1/motor/applications", application_payload(), content_type="application/json")
    assert resp.status_code == 201
    assert Application.objects.get().submitted_by == "staff:alice"


def test_dashboard_warns_of_certificates_near_expiry(client, staff, pki, settings):
    assert "证书即将到期" not in client.get("/console/").content.decode()
    settings.CERT_EXPIRY_WARNING_DAYS = 365 * 30  # every certificate of the dev PKI is now "near" expiry
    page = client.get("/console/").content.decode()
    assert page.count('data-code="certificate_expiry"') >= 4


def test_a_demo_application_names_its_made_up_applicant_for_the_sandbox_cashier(client, staff, pki):
    """The pages mask the applicant's ID number, and the cashier wants it: the console's notice says it."""
    resp = client.post("/console/applications/demo/", follow=True)
    app = Application.objects.get()
    page = resp.content.decode()
    assert f"姓名 {app.applicant.name}，证件号码 {app.applicant.id_number}（演示数据）" in page


def test_the_policy_list_names_the_product_in_chinese(client, staff, pki, monkeypatch):
    from epolicy.backoffice import search

    assert search._product_zh("ctpl") == "交强险"
    assert search._product_zh("commercial") == "商业险"
    assert search._product_zh("no-such-product") == "no-such-product"
