"""A customer who paid always gets the policy (in one process; tests/reliability/test_crash.py kills real
processes): storage failing once, the second copy failing once, a lost answer to the gateway, a paid
application left without a job, and money that cannot be accepted being returned."""

import datetime as dt
import json

import pytest
from django.core import mail
from django.core.management import call_command

from epolicy.archive.models import ArchivedObject
from epolicy.archive.storage import archive_storage, backup_storage
from epolicy.common import clock
from epolicy.motor.api import payment_status_json
from epolicy.motor.demo import demo_application_input
from epolicy.motor.journey import journey_until_payment
from epolicy.motor.models import Application
from epolicy.ops.models import OutboxJob
from epolicy.ops.outbox import outbox_sweep
from epolicy.payments.models import PaymentOrder, SandboxTransaction
from epolicy.payments.providers.sandbox import SandboxGateway
from epolicy.payments.services import payment_start
from epolicy.policies.models import Policy

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def ready(pki, settings):
    settings.OUTBOX = {**settings.OUTBOX, "retry_base_seconds": 5, "retry_max_seconds": 20}

    def make(seed: int) -> Application:
        return journey_until_payment(demo_application_input(seed))

    return make


def pay(app: Application, *, paid_fen: int | None = None, payer: tuple[str, str] | None = None) -> str:
    """The applicant pays on the sandbox cashier; the gateway notifies us (in-process delivery)."""
    order, _url = payment_start(application_id=app.pk, actor="test")
    txn = SandboxTransaction.objects.get(merchant_order_no=order.order_no)
    if paid_fen is not None:  # the gateway's books say another amount was paid
        txn.amount_fen = paid_fen
        txn.save(update_fields=["amount_fen"])
    name, id_number = payer or (app.applicant.name, app.applicant.id_number)
    gateway = SandboxGateway()
    gateway.payer_submits(txn, payer_name=name, payer_id_number=id_number, succeed=True)
    assert gateway.deliver(txn)  # acknowledged whatever we decided
    return order.order_no


def sweep_after(seconds: float) -> None:
    with clock.frozen_clock(clock.now() + dt.timedelta(seconds=seconds)):
        outbox_sweep()


def assert_whole(app: Application) -> Policy:
    """Exactly one policy, archived in both copies, e-mailed once, and the audit chain verifies."""
    policies = list(Policy.objects.filter(application=app))
    assert len(policies) == 1
    policy = policies[0]
    for obj in ArchivedObject.objects.of(policy, policy.application):
        assert obj.replicated_at is not None
        assert archive_storage().exists(obj.key) and backup_storage().exists(obj.key)
    mails = [m for m in mail.outbox if policy.number in m.subject]
    assert len(mails) == 1
    call_command("audit_verify")
    return policy


def test_storage_failing_once_during_issuance_delays_the_policy_but_never_loses_it(
    ready, monkeypatch, tmp_path
):
    app = ready(81)
    monkeypatch.setenv("EPOLICY_FAILPOINTS", "archive.primary.policy=raise")
    monkeypatch.setenv("EPOLICY_FAILPOINT_DIR", str(tmp_path))
    order_no = pay(app)
    app.refresh_from_db()
    assert app.status == "paid" and not Policy.objects.filter(application=app).exists()
    job = OutboxJob.objects.get(kind="policy.issue")
    assert job.status == "pending" and job.attempts == 1 and "InjectedFailure" in job.last_error
    status = payment_status_json(app, order_no)
    assert status["status"] == "paid" and "正在出具" in status["message"]
    sweep_after(2)  # not due yet (the retry is 4–5 s after the failure; real time passes meanwhile)
    assert not Policy.objects.filter(application=app).exists()
    sweep_after(6)
    assert_whole(app)
    assert OutboxJob.objects.get(kind="policy.issue").status == "done"


def test_the_second_copy_failing_once_is_written_later(ready, monkeypatch, tmp_path):
    app = ready(82)
    monkeypatch.setenv("EPOLICY_FAILPOINTS", "archive.second_copy.policy=raise")
    monkeypatch.setenv("EPOLICY_FAILPOINT_DIR", str(tmp_path))
    pay(app)
    # The object that met the failure was registered without its second copy, and the copy was then
    # written by its outbox job right after the commit.
    job = OutboxJob.objects.get(kind="archive.replicate")
    assert job.status == "done"
    obj = ArchivedObject.objects.get(pk=int(job.subject))
    assert obj.replicated_at is not None and backup_storage().exists(obj.key)
    assert_whole(app)


def test_a_paid_application_without_any_job_is_found_and_issued(ready, monkeypatch, tmp_path):
    """E.g. paid before the outbox existed, or its job row lost: the sweep's safety net issues it."""
    app = ready(83)
    monkeypatch.setenv("EPOLICY_FAILPOINTS", "archive.primary.policy=raise")
    monkeypatch.setenv("EPOLICY_FAILPOINT_DIR", str(tmp_path))
    pay(app)
    OutboxJob.objects.filter(kind="policy.issue").delete()
    sweep_after(30)  # within the grace period: left alone
    assert not Policy.objects.filter(application=app).exists()
    sweep_after(90)
    assert_whole(app)


def test_the_gateways_retry_after_a_lost_answer_rearms_issuance(ready, monkeypatch, tmp_path):
    app = ready(84)
    monkeypatch.setenv("EPOLICY_FAILPOINTS", "archive.primary.policy=raise")
    monkeypatch.setenv("EPOLICY_FAILPOINT_DIR", str(tmp_path))
    order_no = pay(app)
    OutboxJob.objects.filter(kind="policy.issue").update(status="done")  # wrongly marked done
    txn = SandboxTransaction.objects.get(merchant_order_no=order_no)
    assert SandboxGateway().deliver(txn)  # the same notification again
    assert_whole(app)


def test_an_amount_that_does_not_match_is_acknowledged_refunded_and_can_be_paid_again(ready, client):
    app = ready(85)
    order, _url = payment_start(application_id=app.pk, actor="test")
    txn = SandboxTransaction.objects.get(merchant_order_no=order.order_no)
    gateway = SandboxGateway()
    gateway.payer_submits(
        txn, payer_name=app.applicant.name, payer_id_number=app.applicant.id_number, succeed=True
    )
    body = json.loads(gateway.notification_body(txn))
    body["amount_fen"] = order.amount_fen - 1
    raw = json.dumps(body).encode()
    from epolicy.payments.providers.sandbox import _sign

    resp = client.post(
        "/api/v1/payments/notify/sandbox",
        data=raw,
        content_type="application/json",
        HTTP_X_SANDBOX_SIGNATURE=_sign(raw),
    )
    # Answered so the gateway stops retrying ...
    assert resp.status_code == 200 and resp.content == b"success"
    order.refresh_from_db()
    # ... and the money goes back, in full, through the outbox.
    assert order.status == "refunded" and order.refund_fen == order.amount_fen - 1
    assert order.refunded_at is not None
    txn.refresh_from_db()
    # The gateway returned what the notification said arrived (its books allow partial refunds).
    assert txn.refunded_fen == order.refund_fen and txn.status in ("refunded", "part_refunded")
    app.refresh_from_db()
    assert app.status == "signed" and not Policy.objects.filter(application=app).exists()
    status = payment_status_json(app, order.order_no)
    assert status["status"] == "refunded" and "原路退回" in status["message"]
    assert "重新发起缴费" in status["message"]
    # The same notification again changes nothing and refunds nothing more.
    client.post(
        "/api/v1/payments/notify/sandbox",
        data=raw,
        content_type="application/json",
        HTTP_X_SANDBOX_SIGNATURE=_sign(raw),
    )
    assert OutboxJob.objects.filter(kind="payment.refund").count() == 1
    # The applicant pays again, the right amount this time.
    second = pay(app)
    assert second != order.order_no
    assert_whole(app)


def test_a_payer_who_is_not_the_applicant_is_refunded_through_the_outbox(ready):
    app = ready(86)
    order_no = pay(app, payer=("王五", "110101199003074514"))
    order = PaymentOrder.objects.get(order_no=order_no)
    assert order.status == "payer_mismatch" and order.refunded_at is not None
    assert SandboxTransaction.objects.get(merchant_order_no=order_no).status == "refunded"
    assert OutboxJob.objects.get(kind="payment.refund").status == "done"


def test_a_refund_the_gateway_cannot_do_now_is_retried(ready, monkeypatch):
    app = ready(87)
    calls = []

    def refund_down(self, **kwargs):
        calls.append(kwargs)
        raise TimeoutError("gateway did not answer")

    monkeypatch.setattr(SandboxGateway, "refund", refund_down)
    order_no = pay(app, payer=("王五", "110101199003074514"))
    order = PaymentOrder.objects.get(order_no=order_no)
    assert order.refunded_at is None and len(calls) == 1
    assert calls[0]["refund_no"] == f"RF{order_no}" and calls[0]["amount_fen"] == order.amount_fen
    monkeypatch.undo()
    sweep_after(10)
    order.refresh_from_db()
    assert order.refunded_at is not None
