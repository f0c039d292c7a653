"""The console's 通知 pages: notifications with their deliveries (masked), the retry of a failed one, and
the sandbox WeChat outbox."""

import pytest
from django.contrib.auth import get_user_model

from epolicy.audit.models import AuditEvent
from epolicy.notifications.models import Delivery
from epolicy.notifications.services import Recipient

from .util import DISPUTE_URL, EMAIL, NAME, OPENID, PHONE, emit

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(client):
    user = get_user_model().objects.create_user("alice", password="pw-123456", is_staff=True)
    client.force_login(user)
    return user


def test_pages_need_a_staff_login(client):
    for path in ("/console/notifications/", "/console/notifications/wechat/"):
        resp = client.get(path)
        assert resp.status_code == 302 and resp["Location"].startswith("/console/login/")


def test_the_list_and_the_detail_show_masked_addresses_only(client, staff, committed):
    with committed(execute=True):
        n = emit()
        emit(event="life.otp", key="otp.9", recipient=Recipient(phone=PHONE))
    page = client.get("/console/notifications/").content.decode()
    assert "保全变更成功通知" in page and "保全短信验证码" in page and "C1" in page
    assert "139****5678" in page and "o***@example.com" in page and "oXyZ****MNOP" in page
    detail = client.get(f"/console/notifications/{n.pk}/").content.decode()
    assert detail.count('data-status="sent"') == 3
    for secret in (PHONE, EMAIL, OPENID, NAME, DISPUTE_URL):
        assert secret not in page and secret not in detail
    only_otp = client.get("/console/notifications/?event=life.otp").content.decode()
    assert "otp.9" in only_otp and ">C1<" not in only_otp
    assert 'href="/console/notifications/"' in page  # the nav bar's 通知


def test_a_failed_delivery_is_sent_again_from_the_console(client, staff, committed, settings):
    settings.EMAIL_BACKEND = "tests.notifications.util.RefusingEmailBackend"
    with committed(execute=True):
        n = emit()
    email = Delivery.objects.get(notification=n, channel="email")
    failed = client.get("/console/notifications/?status=failed").content.decode()
    assert "email_refused" in failed
    detail = client.get(f"/console/notifications/{n.pk}/").content.decode()
    assert "已停止自动重试" in detail and f"/console/notifications/deliveries/{email.pk}/retry/" in detail
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    resp = client.post(f"/console/notifications/deliveries/{email.pk}/retry/")
    assert resp.status_code == 302 and resp["Location"] == f"/console/notifications/{n.pk}/"
    email.refresh_from_db()
    assert email.status == "sent" and email.attempts == 2
    assert AuditEvent.objects.get(action="notification.retry_requested").actor == "staff:alice"
    page = client.get(resp["Location"]).content.decode()
    assert "已发送" in page
    again = client.post(f"/console/notifications/deliveries/{email.pk}/retry/", follow=True)
    assert "不能重新发送" in again.content.decode()
    assert client.get(f"/console/notifications/deliveries/{email.pk}/retry/").status_code == 405


def test_the_sandbox_wechat_outbox_is_visible(client, staff, committed):
    with committed(execute=True):
        emit()
    page = client.get("/console/notifications/wechat/").content.decode()
    assert "oXyZ****MNOP" in page and "sandbox.life.change_applied" in page
    assert "keyword2：联系地址变更" in page and DISPUTE_URL in page  # staff test the link in the sandbox
    assert OPENID not in page


def test_the_old_email_page_leads_to_the_email_deliveries(client, staff):
    resp = client.get("/console/emails/")
    assert resp.status_code == 302 and resp["Location"] == "/console/notifications/?channel=email"
