"""The e-application journey over the JSON API: every step, every out-of-order or bad call."""

import datetime as dt
import json
import re
from decimal import Decimal

import pytest
from django.core import mail

from epolicy.archive.models import ArchivedObject
from epolicy.common import clock
from epolicy.motor.journey import drawn_signature_png, latest_sms_code
from epolicy.motor.models import Application, DocumentRead, EvidenceRecord
from epolicy.motor.services import required_documents
from epolicy.payments.models import PaymentOrder, SandboxTransaction
from epolicy.payments.providers.sandbox import SandboxGateway
from epolicy.policies.models import Policy
from tests.conftest import application_payload

pytestmark = pytest.mark.django_db

API = "/api/v1"


def create(system, **overrides):
    return system.post(f"{API}/motor/applications", application_payload(**overrides))


def approved(system):
    number = create(system).json()["number"]
    resp = system.post(f"{API}/motor/applications/{number}/approve")
    assert resp.status_code == 200, resp.content
    token = resp.json()["customer_url"].rstrip("/").rsplit("/", 1)[-1]
    return number, token


def read_all(client, token, skip=()):
    documents = client.get(f"{API}/customer/applications/{token}").json()["documents"]
    for code in (d["code"] for d in documents):
        if code not in skip:
            assert client.get(f"{API}/customer/applications/{token}/documents/{code}").status_code == 200


def sign(client, token, signature=None):
    return client.post(
        f"{API}/customer/applications/{token}/signature",
        {"signature": signature or drawn_signature_png()},
        content_type="application/json",
    )


def otp_ok(client, token):
    sent = client.post(f"{API}/customer/applications/{token}/otp")
    assert sent.status_code == 200, sent.content
    code = latest_sms_code(sent.json()["phone_masked"])
    resp = client.post(
        f"{API}/customer/applications/{token}/otp/verify", {"code": code}, content_type="application/json"
    )
    assert resp.status_code == 200, resp.content
    return resp


def signed_and_verified(client, system):
    number, token = approved(system)
    read_all(client, token)
    assert sign(client, token).status_code == 200
    otp_ok(client, token)
    return number, token


def pay(client, token, *, name=None, id_number=None, succeed=True):
    with _commit():
        return _pay(client, token, name=name, id_number=id_number, succeed=succeed)


def _commit():
    from django.test import TestCase

    return TestCase.captureOnCommitCallbacks(execute=True)


def _pay(client, token, *, name, id_number, succeed):
    resp = client.post(f"{API}/customer/applications/{token}/payment")
    assert resp.status_code == 200, resp.content
    order_no = resp.json()["order_no"]
    app = Application.objects.get(payments__order_no=order_no)
    txn = SandboxTransaction.objects.get(merchant_order_no=order_no)
    gateway = SandboxGateway()
    gateway.payer_submits(
        txn,
        payer_name=name or app.applicant.name,
        payer_id_number=id_number or app.applicant.id_number,
        succeed=succeed,
    )
    gateway.deliver(txn)
    return order_no


# --- quote and creation -------------------------------------------------------------------------------
def test_quote_family_car_beijing(system, tomorrow):
    body = application_payload()
    resp = system.post(
        f"{API}/motor/quotes",
        {
            "vehicle": body["vehicle"],
            "region_code": "110000",
            "floating_code": "A2",
            "period_start": tomorrow.isoformat(),
        },
    )
    assert resp.status_code == 200, resp.content
    q = resp.json()
    # 家庭自用 5 座 950；北京 plan D A2 −25%: 950 × 0.75 = 712.50; 车船税 1.5 L band 1.0–1.6 L = 420
    assert q["base_premium"] == "950.00" or Decimal(q["base_premium"]) == 950
    assert Decimal(q["premium"]) == Decimal("712.50")
    assert Decimal(q["vehicle_tax"]) == Decimal("420.00")
    assert Decimal(q["total_due"]) == Decimal("1132.50")
    assert Decimal(q["limits"]["at_fault"]["total"]) == 200000


def test_create_application(system):
    resp = create(system)
    assert resp.status_code == 201, resp.content
    data = resp.json()
    assert data["status"] == "submitted" and data["total_due"] == "1132.50"
    app = Application.objects.get(number=data["number"])
    assert app.period_end == app.period_start.replace(year=app.period_start.year + 1) - dt.timedelta(days=1)


def test_api_requires_a_key(client):
    resp = client.post(f"{API}/motor/applications", application_payload(), content_type="application/json")
    assert resp.status_code == 401
    assert resp.json()["code"] == "not_authenticated"


@pytest.mark.parametrize(
    ("mutate", "code", "field"),
    [
        (
            lambda b: b["applicant"].update(id_number="110105194912310021"),
            "invalid_id_number",
            "applicant.id_number",
        ),
        (lambda b: b["applicant"].update(phone="12345"), "invalid_phone", "applicant.phone"),
        (lambda b: b["vehicle"].update(vin="LSVAAAAA0AAAAAAAA"), "invalid_vin", "vehicle.vin"),
        (lambda b: b["vehicle"].update(plate="京I12345"), "invalid_plate", "vehicle.plate"),
        (lambda b: b.update(period_start="2020-01-01"), "invalid_period", "period_start"),
        (lambda b: b["applicant"].update(email=""), "validation_error", "applicant.email"),
        (lambda b: b.update(floating_code="B9"), "validation_error", "floating_code"),
    ],
)
def test_bad_input_is_refused_with_a_code_and_nothing_is_written(system, mutate, code, field):
    body = application_payload()
    mutate(body)
    resp = system.post(f"{API}/motor/applications", body)
    assert resp.status_code == 422, resp.content
    err = resp.json()
    assert err["code"] == code
    assert err["details"].get("field") == field
    assert re.search(r"[\u4e00-\u9fff]", err["message"])
    assert not Application.objects.exists()


def test_schema_errors_name_the_field_in_chinese(system):
    body = application_payload()
    del body["vehicle"]["seats"]
    resp = system.post(f"{API}/motor/applications", body)
    assert resp.status_code == 422
    assert resp.json()["code"] == "validation_error"
    assert "vehicle.seats" in resp.json()["message"] and "必填" in resp.json()["message"]


# --- approval -----------------------------------------------------------------------------------------
def test_approve_twice_is_refused(system, pki):
    number, _token = approved(system)
    resp = system.post(f"{API}/motor/applications/{number}/approve")
    assert resp.status_code == 409 and resp.json()["code"] == "application_state"


def test_unknown_link_is_not_found(client, db):
    resp = client.get(f"{API}/customer/applications/not-a-token")
    assert resp.status_code == 404 and resp.json()["code"] == "not_found"


# --- read before sign ---------------------------------------------------------------------------------
def test_sign_before_reading_every_document_is_refused(client, system, pki):
    _number, token = approved(system)
    read_all(client, token, skip=("privacy_policy",))
    before = ArchivedObject.objects.count()
    resp = sign(client, token)
    assert resp.status_code == 409
    assert resp.json()["code"] == "documents_not_read"
    assert resp.json()["details"]["unread"] == ["privacy_policy"]
    assert "个人信息保护政策" in resp.json()["message"]
    assert ArchivedObject.objects.count() == before
    assert Application.objects.get().status == "approved"


def test_reading_is_recorded_by_the_server(client, system, pki):
    _number, token = approved(system)
    client.get(f"{API}/customer/applications/{token}/documents/ctpl_terms", HTTP_USER_AGENT="PhoneBrowser/1")
    client.get(f"{API}/customer/applications/{token}/documents/ctpl_terms")
    read = DocumentRead.objects.get(code="ctpl_terms")
    assert read.times_served == 2 and read.user_agent == "PhoneBrowser/1" and len(read.sha256) == 64
    state = client.get(f"{API}/customer/applications/{token}").json()
    assert state["next_step"] == "read"
    assert {d["code"]: d["read"] for d in state["documents"]}["ctpl_terms"] is True


def test_application_form_is_served_as_the_pdf_that_gets_signed(client, system, pki):
    _number, token = approved(system)
    resp = client.get(f"{API}/customer/applications/{token}/documents/application_form")
    assert resp["Content-Type"] == "application/pdf" and resp.content.startswith(b"%PDF")
    app = Application.objects.get()
    assert DocumentRead.objects.get(code="application_form").sha256 == app.form_document.sha256


@pytest.mark.parametrize("signature", ["not base64!!", "data:image/png;base64,AAAA", "iVBORw0KGgo="])
def test_bad_signature_image_is_refused(client, system, pki, signature):
    _number, token = approved(system)
    read_all(client, token)
    resp = sign(client, token, signature)
    assert resp.status_code == 422 and resp.json()["code"] == "signature_invalid"
    assert Application.objects.get().status == "approved"


def test_blank_signature_is_refused(client, system, pki):
    import base64
    import io

    from PIL import Image

    _number, token = approved(system)
    read_all(client, token)
    buf = io.BytesIO()
    Image.new("RGBA", (600, 200), (255, 255, 255, 0)).save(buf, format="PNG")
    resp = sign(client, token, base64.b64encode(buf.getvalue()).decode())
    assert resp.status_code == 422 and resp.json()["code"] == "signature_invalid"


def test_signing_archives_the_signed_form_and_evidence(client, system, pki):
    _number, token = approved(system)
    read_all(client, token)
    resp = sign(client, token)
    assert resp.status_code == 200, resp.content
    assert resp.json()["next_step"] == "otp"
    app = Application.objects.get()
    assert app.status == "signed" and app.signed_document.kind == "application_signed"
    evidence = EvidenceRecord.objects.get(kind="signature")
    assert {d["code"] for d in evidence.data["documents"]} == {c for c, _ in required_documents(app)}
    assert evidence.data["signed_form_sha256"] == app.signed_document.sha256
    assert evidence.archived.content_type == "application/json"
    # Retention: a one-year term is kept for 5 years after it ends (motor standard §5 c).
    assert app.signed_document.retention_until == app.period_end.replace(year=app.period_end.year + 5)
    again = sign(client, token)
    assert again.status_code == 409 and again.json()["code"] == "application_state"


# --- SMS check -------------------------------------------------------------------------------------------
def test_otp_before_signing_is_refused(client, system, pki):
    _number, token = approved(system)
    resp = client.post(f"{API}/customer/applications/{token}/otp")
    assert resp.status_code == 409 and resp.json()["code"] == "not_signed"


def test_otp_wrong_code_counts_attempts_then_locks(client, system, pki, settings):
    _number, token = approved(system)
    read_all(client, token)
    sign(client, token)
    client.post(f"{API}/customer/applications/{token}/otp")
    url = f"{API}/customer/applications/{token}/otp/verify"
    for left in range(settings.OTP["max_attempts"] - 1, 0, -1):
        resp = client.post(url, {"code": "000000"}, content_type="application/json")
        assert resp.json()["code"] == "otp_invalid"
        assert resp.json()["details"]["attempts_left"] == left
    resp = client.post(url, {"code": "000000"}, content_type="application/json")
    assert resp.json()["code"] == "otp_locked"
    assert Application.objects.get().otp_verified_at is None


def test_otp_resend_cooldown_and_expiry(client, system, pki):
    _number, token = approved(system)
    read_all(client, token)
    sign(client, token)
    sent = client.post(f"{API}/customer/applications/{token}/otp").json()
    again = client.post(f"{API}/customer/applications/{token}/otp")
    assert again.status_code == 429 and again.json()["code"] == "otp_cooldown"
    code = latest_sms_code(sent["phone_masked"])
    with clock.frozen_clock(clock.now() + dt.timedelta(minutes=6)):
        resp = client.post(
            f"{API}/customer/applications/{token}/otp/verify", {"code": code}, content_type="application/json"
        )
    assert resp.json()["code"] == "otp_expired"


def test_pay_before_signing_and_before_otp_is_refused(client, system, pki):
    _number, token = approved(system)
    resp = client.post(f"{API}/customer/applications/{token}/payment")
    assert resp.status_code == 409 and resp.json()["code"] == "not_signed"
    read_all(client, token)
    sign(client, token)
    resp = client.post(f"{API}/customer/applications/{token}/payment")
    assert resp.status_code == 409 and resp.json()["code"] == "otp_required"
    assert not PaymentOrder.objects.exists()


# --- payment ------------------------------------------------------------------------------------------
def test_payment_issues_the_policy_and_mails_it(client, system, pki):
    number, token = signed_and_verified(client, system)
    order_no = pay(client, token)
    status = client.get(f"{API}/customer/applications/{token}/payment/{order_no}").json()
    assert status["status"] == "paid"
    policy = Policy.objects.get()
    assert status["policy_number"] == policy.number
    assert re.fullmatch(r"PDZA\d{8}\d{6}", policy.number)
    assert Application.objects.get(number=number).status == "issued"
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert policy.number in message.subject
    assert message.attachments[0][0] == f"{policy.number}.pdf"
    assert message.attachments[0][1].startswith(b"%PDF")
    assert EvidenceRecord.objects.filter(kind="payment").count() == 1


def test_payer_who_is_not_the_applicant_is_refused_and_refunded(client, system, pki):
    _number, token = signed_and_verified(client, system)
    order_no = pay(client, token, name="王二小", id_number="11010519491231002X")
    order = PaymentOrder.objects.get(order_no=order_no)
    assert order.status == "payer_mismatch"
    assert SandboxTransaction.objects.get(merchant_order_no=order_no).status == "refunded"
    status = client.get(f"{API}/customer/applications/{token}/payment/{order_no}").json()
    assert "投保人本人" in status["message"] and status["policy_number"] is None
    assert not Policy.objects.exists()
    # The applicant can then pay themselves.
    pay(client, token)
    assert Policy.objects.count() == 1


def test_notification_with_a_bad_signature_is_rejected(client, system, pki):
    _number, token = signed_and_verified(client, system)
    resp = client.post(f"{API}/customer/applications/{token}/payment")
    order_no = resp.json()["order_no"]
    txn = SandboxTransaction.objects.get(merchant_order_no=order_no)
    gateway = SandboxGateway()
    app = Application.objects.get()
    gateway.payer_submits(
        txn, payer_name=app.applicant.name, payer_id_number=app.applicant.id_number, succeed=True
    )
    body, headers = gateway.signed_notification(txn)
    forged = body.replace(app.applicant.name.encode(), "某某".encode())
    resp = client.post(
        f"{API}/payments/notify/sandbox",
        forged,
        content_type="application/json",
        **{"HTTP_X_SANDBOX_SIGNATURE": headers["X-Sandbox-Signature"]},
    )
    assert resp.status_code == 400 and resp.content == b"fail"
    assert PaymentOrder.objects.get(order_no=order_no).status == "pending"
    # The genuine message is then accepted; repeating it changes nothing (idempotent).
    for _ in range(2):
        resp = client.post(
            f"{API}/payments/notify/sandbox",
            body,
            content_type="application/json",
            **{"HTTP_X_SANDBOX_SIGNATURE": headers["X-Sandbox-Signature"]},
        )
        assert resp.content == b"success"
    assert Policy.objects.count() == 1
    outcomes = list(
        PaymentOrder.objects.get(order_no=order_no).application.payments.values_list("status", flat=True)
    )
    assert outcomes == ["paid"]


def test_late_failure_notification_does_not_undo_a_payment(client, system, pki):
    _number, token = signed_and_verified(client, system)
    order_no = pay(client, token)
    txn = SandboxTransaction.objects.get(merchant_order_no=order_no)
    gateway = SandboxGateway()
    txn.status = "failed"  # a stale "failed" message from an earlier attempt arrives after the success
    body, headers = gateway.signed_notification(txn)
    resp = client.post(
        f"{API}/payments/notify/sandbox",
        body,
        content_type="application/json",
        **{"HTTP_X_SANDBOX_SIGNATURE": headers["X-Sandbox-Signature"]},
    )
    assert resp.content == b"success"
    assert PaymentOrder.objects.get(order_no=order_no).status == "paid"
    assert Policy.objects.count() == 1


def test_failed_payment_can_be_retried(client, system, pki):
    _number, token = signed_and_verified(client, system)
    order_no = pay(client, token, succeed=False)
    assert PaymentOrder.objects.get(order_no=order_no).status == "failed"
    assert not Policy.objects.exists()
    again = pay(client, token)
    assert again == order_no  # the open order is reused: the applicant cannot be charged twice
    assert Policy.objects.count() == 1
    resp = client.post(f"{API}/customer/applications/{token}/payment")
    assert resp.status_code == 409 and resp.json()["code"] == "payment_state"


def test_every_step_is_in_the_audit_chain(client, system, pki):
    from epolicy.audit.selectors import audit_events_for, audit_verify_chain

    number, token = signed_and_verified(client, system)
    pay(client, token)
    actions = [e.action for e in audit_events_for("application", number)]
    for expected in (
        "application.created",
        "application.approved",
        "application.document_read",
        "application.signed",
        "application.otp_verified",
        "payment.started",
        "application.paid",
    ):
        assert expected in actions
    assert audit_verify_chain().ok


def test_personal_data_is_encrypted_at_rest(client, system, pki):
    from django.db import connection

    number, _token = approved(system)
    app = Application.objects.get(number=number)
    with connection.cursor() as cur:
        cur.execute("SELECT id_number, phone, email FROM parties_customer")
        rows = cur.fetchall()
    raw = json.dumps(rows)
    assert app.applicant.id_number not in raw and app.applicant.phone not in raw
    assert all(value.startswith("v1:") for row in rows for value in row if value)
