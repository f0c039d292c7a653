"""The sandbox gateway retries unacknowledged callbacks; SMS codes are limited per phone and per IP."""

import pytest

from epolicy.common.errors import ApplicationError
from epolicy.common.request_meta import ClientInfo
from epolicy.identity import otp
from epolicy.motor import services
from epolicy.motor.demo import demo_application_input
from epolicy.motor.journey import drawn_signature_png, latest_sms_code, read_all_documents
from epolicy.payments.models import PaymentOrder, SandboxTransaction
from epolicy.payments.providers.sandbox import SandboxGateway
from epolicy.payments.services import payment_start, payment_sync
from epolicy.policies.models import Policy

pytestmark = pytest.mark.django_db
CLIENT = ClientInfo(ip="10.0.0.8", user_agent="test")


@pytest.fixture
def ready_to_pay(pki):
    app = services.application_create(data=demo_application_input(61), actor="test")
    app, _ = services.application_approve(application_id=app.pk, actor="test")
    read_all_documents(app)
    services.application_sign(app_id=app.pk, signature=drawn_signature_png(), client=CLIENT)
    app.refresh_from_db()
    masked = services.application_otp_send(app=app, client=CLIENT)
    services.application_otp_verify(app_id=app.pk, code=latest_sms_code(masked), client=CLIENT)
    app.refresh_from_db()
    return app


def test_unreachable_merchant_is_retried_and_the_return_page_still_resolves(
    ready_to_pay, settings, committed
):
    settings.SANDBOX_PAYMENT_DELIVERY = "http"
    settings.SITE_URL = "http://127.0.0.1:9"  # nothing listens on the discard port
    app = ready_to_pay
    order, _url = payment_start(application_id=app.pk, actor="test")
    txn = SandboxTransaction.objects.get(merchant_order_no=order.order_no)
    gateway = SandboxGateway()
    gateway.payer_submits(
        txn, payer_name=app.applicant.name, payer_id_number=app.applicant.id_number, succeed=True
    )
    assert gateway.deliver(txn) is False
    txn.refresh_from_db()
    assert txn.notify_attempts == 1 and not txn.notified_ok
    assert PaymentOrder.objects.get(pk=order.pk).status == "pending"
    # The return page asks the gateway (active query) instead of waiting for the callback.
    with committed(execute=True):
        assert payment_sync(order_no=order.order_no, actor="test") == "paid"
    assert Policy.objects.filter(application=app).exists()


def test_redeliver_command_delivers_pending_notifications(ready_to_pay, settings, committed):
    from django.core.management import call_command

    app = ready_to_pay
    settings.SANDBOX_PAYMENT_DELIVERY = "http"
    settings.SITE_URL = "http://127.0.0.1:9"
    order, _url = payment_start(application_id=app.pk, actor="test")
    txn = SandboxTransaction.objects.get(merchant_order_no=order.order_no)
    gateway = SandboxGateway()
    gateway.payer_submits(
        txn, payer_name=app.applicant.name, payer_id_number=app.applicant.id_number, succeed=True
    )
    gateway.deliver(txn)
    settings.SANDBOX_PAYMENT_DELIVERY = "inline"  # the merchant is reachable again
    with committed(execute=True):
        call_command("sandbox_redeliver")
    txn.refresh_from_db()
    assert txn.notified_ok and txn.notify_attempts == 2
    assert PaymentOrder.objects.get(pk=order.pk).status == "paid"


def test_retry_is_scheduled_only_on_a_backend_that_can_defer(ready_to_pay):
    from epolicy.payments.tasks import schedule_redelivery

    txn = SandboxTransaction(txn_id="SBX1", notify_attempts=1)
    assert schedule_redelivery(txn) is False  # the test backend runs tasks at once, it cannot defer


def test_a_redelivery_carries_the_request_id_of_the_payment_into_its_log_lines(db, monkeypatch):
    from types import SimpleNamespace

    from epolicy.common import clock
    from epolicy.common.requestid import bound, current_request_id
    from epolicy.payments import tasks
    from epolicy.payments.providers.sandbox import SandboxGateway

    queued = []
    monkeypatch.setattr(tasks, "default_task_backend", SimpleNamespace(supports_defer=True))
    monkeypatch.setattr(
        tasks,
        "sandbox_redeliver_task",
        SimpleNamespace(using=lambda **kw: SimpleNamespace(enqueue=lambda *args: queued.append(args))),
    )
    with bound("req-redeliver-0001"):
        assert tasks.schedule_redelivery(SandboxTransaction(txn_id="SBX1", notify_attempts=1)) is True
    assert queued == [("SBX1", "req-redeliver-0001")]

    # The task, run later by a worker outside any request, logs under that id.
    monkeypatch.undo()
    seen = []
    monkeypatch.setattr(
        SandboxGateway, "deliver", lambda self, txn: seen.append(current_request_id()) or True
    )
    SandboxTransaction.objects.create(
        txn_id="SBX2",
        merchant_order_no="PAY1",
        amount_fen=100,
        subject="x",
        notify_url="https://merchant.example/notify",
        return_url="https://merchant.example/return",
        status="success",
        created_at=clock.now(),
        notify_attempts=1,
    )
    assert tasks.sandbox_redeliver_task.call("SBX2", "req-redeliver-0001") is True
    assert seen == ["req-redeliver-0001"] and current_request_id() == ""


def test_sms_codes_are_limited_per_phone_per_hour(db, settings):
    settings.OTP = {**settings.OTP, "resend_cooldown_seconds": 0, "max_per_phone_per_hour": 3}
    for i in range(3):
        otp.otp_issue(purpose="p", subject=f"s{i}", phone="13812345678", ip=None)
    with pytest.raises(Exception) as exc:
        otp.otp_issue(purpose="p", subject="s9", phone="13812345678", ip=None)
    assert exc.value.code == "rate_limited" and "手机号" in exc.value.message_zh


def test_sms_codes_are_limited_per_ip_per_hour(db, settings):
    settings.OTP = {**settings.OTP, "resend_cooldown_seconds": 0, "max_per_ip_per_hour": 2}
    otp.otp_issue(purpose="p", subject="a", phone="13812345671", ip="10.1.1.1")
    otp.otp_issue(purpose="p", subject="b", phone="13812345672", ip="10.1.1.1")
    with pytest.raises(Exception) as exc:
        otp.otp_issue(purpose="p", subject="c", phone="13812345673", ip="10.1.1.1")
    assert exc.value.code == "rate_limited"
    otp.otp_issue(purpose="p", subject="d", phone="13812345674", ip="10.1.1.2")  # another client is fine


def test_sms_codes_per_ip_count_an_ipv6_client_by_its_64(db, settings):
    """Every address of one /64 costs its holder nothing to change: they share one allowance."""
    settings.OTP = {**settings.OTP, "resend_cooldown_seconds": 0, "max_per_ip_per_hour": 2}
    otp.otp_issue(purpose="p", subject="a", phone="13812345671", ip="2001:db8:1:2::a")
    otp.otp_issue(purpose="p", subject="b", phone="13812345672", ip="2001:db8:1:2:ffff::1")
    with pytest.raises(Exception) as exc:
        otp.otp_issue(purpose="p", subject="c", phone="13812345673", ip="2001:db8:1:2:1234:5678:9abc:def0")
    assert exc.value.code == "rate_limited"
    otp.otp_issue(purpose="p", subject="d", phone="13812345674", ip="2001:db8:1:3::a")  # another /64
    # An IPv4-mapped address counts as its IPv4 address.
    otp.otp_issue(purpose="p", subject="e", phone="13812345675", ip="10.1.1.5")
    otp.otp_issue(purpose="p", subject="f", phone="13812345676", ip="::ffff:10.1.1.5")
    with pytest.raises(ApplicationError):
        otp.otp_issue(purpose="p", subject="g", phone="13812345677", ip="10.1.1.5")


def test_code_is_stored_hashed(db):
    challenge, code = otp.otp_issue(purpose="p", subject="x", phone="13812345678", ip=None)
    assert code not in challenge.code_hash and len(challenge.code_hash) == 64
