"""Every input bounded, every door checked: forged callbacks, image bombs, errors without tracebacks,
response headers, applicant links that expire and never leave our own pages or logs."""

import base64
import datetime as dt
import hashlib
import hmac
import json
import logging
import struct
import time
import zlib
from pathlib import Path

import pytest
from django.test import Client

from epolicy.common import clock
from epolicy.common.logredact import RedactSecretsFilter
from epolicy.motor import services
from epolicy.motor.demo import demo_application_input
from epolicy.motor.journey import drawn_signature_png, journey_until_payment, read_all_documents
from epolicy.payments.models import PaymentOrder, SandboxTransaction
from epolicy.payments.providers.sandbox import SandboxGateway
from epolicy.payments.services import payment_start
from epolicy.policies.models import Policy

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


def png(width: int, height: int, idat: bytes) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def data_url(raw: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(raw).decode()


@pytest.fixture
def approved(pki):
    app = services.application_create(data=demo_application_input(71), actor="test")
    app, _ = services.application_approve(application_id=app.pk, actor="test")
    read_all_documents(app)
    return app


# --- forged payment notifications -------------------------------------------------------------------------
def test_a_notification_signed_with_a_guessed_secret_is_refused(client, pki):
    app = journey_until_payment(demo_application_input(72))
    order, _url = payment_start(application_id=app.pk, actor="test")
    body = json.dumps(
        {
            "notify_id": "forged",
            "order_no": order.order_no,
            "txn_id": "SBXFORGED",
            "status": "SUCCESS",
            "amount_fen": order.amount_fen,
            "payer_name": app.applicant.name,
            "payer_id_number": app.applicant.id_number,
            "paid_at": clock.now().isoformat(),
        }
    ).encode()
    # What the secret used to be: derived from the checkout's path, which error pages printed.
    guessed = base64.b64encode(
        hashlib.sha256(f"epolicy-dev:sandbox-payment:{ROOT}".encode()).digest()
    ).decode()
    for secret in (guessed, "", "sandbox", "secret"):
        signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        resp = client.post(
            "/api/v1/payments/notify/sandbox",
            data=body,
            content_type="application/json",
            HTTP_X_SANDBOX_SIGNATURE=signature,
        )
        assert resp.status_code == 400 and resp.content == b"fail"
    order.refresh_from_db()
    assert order.status == "pending" and not Policy.objects.filter(application=app).exists()


# --- the hand-signature image -------------------------------------------------------------------------------
def test_a_tiny_png_declaring_50000_by_50000_pixels_is_refused_from_its_header(client, approved, monkeypatch):
    bomb = png(50_000, 50_000, zlib.compress(b"\x00" * 64))
    assert len(bomb) < 100

    def no_decoding(*args, **kwargs):
        raise AssertionError("the image must not be decoded")

    monkeypatch.setattr("epolicy.documents.signature_image.Image.open", no_decoding)
    started = time.monotonic()
    resp = client.post(
        f"/api/v1/customer/applications/{approved.access_token}/signature",
        data={"signature": data_url(bomb)},
        content_type="application/json",
    )
    assert time.monotonic() - started < 1
    assert resp.status_code == 422 and resp.json()["code"] == "signature_invalid"
    assert resp.json()["details"] == {"field": "signature"}


def test_a_94_megapixel_png_is_refused_without_decoding(client, approved, monkeypatch):
    width, height = 10_000, 9_400
    rows = zlib.compressobj(9)
    row = b"\x00" + b"\x00" * (width * 4)
    idat = b"".join(rows.compress(row) for _ in range(200)) + rows.flush()  # a partial image is enough
    bomb = png(width, height, idat)

    def no_decoding(*args, **kwargs):
        raise AssertionError("the image must not be decoded")

    monkeypatch.setattr("epolicy.documents.signature_image.Image.open", no_decoding)
    resp = client.post(f"/m/a/{approved.access_token}/sign/", {"signature": data_url(bomb)})
    assert resp.status_code == 422 and 'data-code="signature_invalid"' in resp.content.decode()
    approved.refresh_from_db()
    assert approved.status == "approved"


@pytest.mark.parametrize(
    "payload",
    [
        "not base64 at all!",
        data_url(b"GIF89a" + b"\x00" * 40),
        data_url(png(600, 200, b"garbage, not zlib")),
        "data:image/png;base64," + "A" * 700_000,  # over the size limit, refused before decoding
    ],
)
def test_other_broken_signatures_get_the_coded_refusal(client, approved, payload):
    resp = client.post(
        f"/api/v1/customer/applications/{approved.access_token}/signature",
        data={"signature": payload},
        content_type="application/json",
    )
    assert resp.status_code == 422 and resp.json()["code"] == "signature_invalid"


def test_signing_is_rate_limited_per_client(client, approved, settings):
    settings.SIGNATURE_MAX_PER_CLIENT_PER_HOUR = 3
    url = f"/api/v1/customer/applications/{approved.access_token}/signature"
    codes = [
        client.post(url, data={"signature": "x"}, content_type="application/json").json()["code"]
        for _ in range(4)
    ]
    assert codes == ["signature_invalid"] * 3 + ["rate_limited"]
    other = Client(REMOTE_ADDR="10.9.9.9")
    resp = other.post(url, data={"signature": drawn_signature_png()}, content_type="application/json")
    assert resp.status_code == 200  # another client is not affected


# --- no traceback reaches a client ----------------------------------------------------------------------
def test_an_unexpected_api_error_is_a_coded_500_without_detail(approved, monkeypatch, caplog):
    def explode(*args, **kwargs):
        raise RuntimeError(f"boom in {ROOT}/epolicy/secret_module.py with SECRET_KEY")

    monkeypatch.setattr("epolicy.motor.services.application_document_served", explode)
    client = Client(raise_request_exception=False)
    with caplog.at_level(logging.ERROR):
        resp = client.get(f"/api/v1/customer/applications/{approved.access_token}/documents/application_form")
    assert resp.status_code == 500
    body = resp.json()
    assert body["code"] == "internal_error" and "错误编号" in body["message"]
    assert set(body["details"]) == {"error_id"}
    text = resp.content.decode()
    assert "Traceback" not in text and str(ROOT) not in text and "RuntimeError" not in text
    assert body["details"]["error_id"] in caplog.text and "RuntimeError" in caplog.text
    assert approved.access_token not in caplog.text  # the link's secret is not logged either


def test_an_unexpected_page_error_is_a_plain_page(approved, monkeypatch):
    def explode(*args, **kwargs):
        raise RuntimeError(f"boom in {ROOT}")

    monkeypatch.setattr("epolicy.portal.views.services.application_document_served", explode)
    client = Client(raise_request_exception=False)
    resp = client.get(f"/m/a/{approved.access_token}/doc/application_form/")
    text = resp.content.decode()
    assert resp.status_code == 500 and "系统暂时无法处理" in text
    assert "Traceback" not in text and str(ROOT) not in text


def test_an_unknown_api_route_is_a_coded_404(client, db):
    resp = client.get("/api/v1/no/such/route")
    assert resp.status_code == 404 and resp.json()["code"] == "not_found"


# --- response headers -------------------------------------------------------------------------------------
def test_pages_have_a_content_security_policy_and_personal_data_is_not_cached(client, approved):
    for path in (
        f"/m/a/{approved.access_token}/",
        f"/m/a/{approved.access_token}/form.pdf",
        "/query/",
        "/verify/",
        "/console/login/",
        f"/api/v1/customer/applications/{approved.access_token}",
    ):
        resp = client.get(path)
        assert resp.status_code == 200, path
        csp = resp.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "object-src 'none'" in csp
        assert "no-store" in resp.headers["Cache-Control"], path


def test_no_page_needs_a_script_from_elsewhere_or_inline(client, admin_user):
    client.force_login(admin_user)
    for path in ("/api/v1/docs", "/query/", "/verify/", "/console/", "/console/life/"):
        html = client.get(path).content.decode()
        assert "cdn." not in html and "https://" not in html.split("</head>")[0], path
        for part in html.split("<script")[1:]:
            tag = part.split(">", 1)[0]
            assert "src=" in tag or 'type="application/json"' in tag, (path, tag)


def test_public_pki_objects_keep_their_own_cache_policy(client, pki):
    resp = client.get("/pki/ca/issuing-ca.crt")
    assert resp.status_code == 200 and "public" in resp.headers["Cache-Control"]


# --- applicant links ----------------------------------------------------------------------------------------
def test_the_payment_gateway_never_sees_the_link_secret(client, pki):
    app = journey_until_payment(demo_application_input(73))
    order, url = payment_start(application_id=app.pk, actor="test")
    txn = SandboxTransaction.objects.get(merchant_order_no=order.order_no)
    for value in (url, txn.return_url, txn.notify_url, txn.subject):
        assert app.access_token not in value
    # Back from the gateway in the browser that opened the link: to the result page ...
    client.get(f"/m/a/{app.access_token}/")
    resp = client.get(f"/m/return/{order.order_no}/")
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/result/?order={order.order_no}")
    # ... in any other browser: nothing about the order.
    stranger = Client().get(f"/m/return/{order.order_no}/")
    assert stranger.status_code == 200 and app.access_token not in stranger.content.decode()
    assert app.applicant.name not in stranger.content.decode()


def test_a_link_expires_after_the_journey_with_a_grace_period_to_download(client, pki, settings):
    app = journey_until_payment(demo_application_input(74))
    order, _url = payment_start(application_id=app.pk, actor="test")
    txn = SandboxTransaction.objects.get(merchant_order_no=order.order_no)
    gateway = SandboxGateway()
    gateway.payer_submits(
        txn, payer_name=app.applicant.name, payer_id_number=app.applicant.id_number, succeed=True
    )
    from epolicy.motor.issuance import policy_issue

    gateway.deliver(txn)
    policy = policy_issue(application_id=app.pk)
    token = app.access_token
    within = policy.confirmed_at + dt.timedelta(days=settings.APPLICANT_LINK_GRACE_DAYS - 1)
    after = policy.confirmed_at + dt.timedelta(days=settings.APPLICANT_LINK_GRACE_DAYS, seconds=1)
    with clock.frozen_clock(within):
        assert client.get(f"/m/a/{token}/policy.pdf").status_code == 200
    with clock.frozen_clock(after):
        resp = client.get(f"/m/a/{token}/policy.pdf")
        assert resp.status_code == 410 and 'data-code="link_expired"' in resp.content.decode()
        api = client.get(f"/api/v1/customer/applications/{token}")
        assert api.status_code == 410 and api.json()["code"] == "link_expired"


def test_an_unused_link_expires_before_cover_would_start(client, approved, settings):
    token = approved.access_token
    day_before = clock.start_of_day(approved.period_start) - dt.timedelta(minutes=1)
    expiry = min(
        clock.start_of_day(approved.period_start),
        approved.approved_at + dt.timedelta(days=settings.APPLICANT_LINK_DAYS),
    )
    with clock.frozen_clock(min(day_before, expiry - dt.timedelta(minutes=1))):
        assert client.get(f"/m/a/{token}/").status_code == 200
    with clock.frozen_clock(expiry):
        resp = client.post(f"/m/a/{token}/sign/", {"signature": drawn_signature_png()})
        assert resp.status_code == 410
    approved.refresh_from_db()
    assert approved.status == "approved"


def test_link_secrets_are_redacted_from_log_lines():
    record = logging.LogRecord(
        "django.server",
        logging.INFO,
        __file__,
        1,
        '"%s" %s %s',
        ("GET /m/a/Zm9vYmFyYmF6cXV4LXNlY3JldA/result/?order=PAY1 HTTP/1.1", "200", "512"),
        None,
    )
    RedactSecretsFilter().filter(record)
    assert record.getMessage() == '"GET /m/a/[redacted]/result/?order=PAY1 HTTP/1.1" 200 512'
    record = logging.LogRecord(
        "django.request",
        logging.WARNING,
        __file__,
        1,
        "Gone: %s",
        ("/api/v1/customer/applications/abc123",),
        None,
    )
    RedactSecretsFilter().filter(record)
    assert record.getMessage() == "Gone: /api/v1/customer/applications/[redacted]"


def test_payments_of_a_withdrawn_application_are_refunded_not_kept(pki):
    app = journey_until_payment(demo_application_input(75))
    order, _url = payment_start(application_id=app.pk, actor="test")
    txn = SandboxTransaction.objects.get(merchant_order_no=order.order_no)
    app.status = "withdrawn"
    app.save(update_fields=["status"])
    gateway = SandboxGateway()
    gateway.payer_submits(
        txn, payer_name=app.applicant.name, payer_id_number=app.applicant.id_number, succeed=True
    )
    assert gateway.deliver(txn)
    order.refresh_from_db()
    assert order.status == PaymentOrder.Status.REFUNDED and order.refund_fen == order.amount_fen


def test_captcha_creation_is_limited_on_the_page_and_the_api(client, db, settings):
    settings.CAPTCHA_MAX_PER_CLIENT_PER_HOUR = 2
    assert client.get("/query/").status_code == 200
    assert client.post("/api/v1/public/captcha").status_code == 200
    page = client.get("/query/")
    assert page.status_code == 429 and 'data-code="rate_limited"' in page.content.decode()
    assert "data:image/png" not in page.content.decode()  # no captcha offered
    api = client.post("/api/v1/public/captcha")
    assert api.status_code == 429 and api.json()["code"] == "rate_limited" and "Retry-After" in api.headers


def test_every_public_path_has_a_floor_against_floods(client, db, settings):
    from django.core.cache import cache

    cache.clear()
    settings.PUBLIC_REQUESTS_PER_MINUTE = 5
    answers = [client.get("/api/v1/customer/applications/no-such-token").status_code for _ in range(6)]
    assert answers == [404] * 5 + [429]
    refused = client.get("/api/v1/public/policies/download/x")
    assert refused.json()["code"] == "rate_limited" and refused.headers["Retry-After"] == "60"
    page = client.get("/query/")
    assert page.status_code == 429 and 'data-code="rate_limited"' in page.content.decode()
    # Signed-in and partner paths are not counted here (they have their own authentication).
    assert client.get("/console/").status_code == 302
    other = Client(REMOTE_ADDR="10.7.7.7")
    assert other.get("/query/").status_code == 200
    cache.clear()
