"""The signing service's endpoints through Django's test client: EPSign authentication, limits, errors.

The MACs here are computed by hand from the documented scheme (docs/signing-service.md), not with
`remote.auth`, so a change of the wire format breaks these tests.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import io
import json
import sys
import types

import pytest
from django.conf import settings
from PIL import Image, ImageDraw
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas

from epolicy.common.types import SignatureBox
from epolicy.signing.models import SigningCredential
from epolicy.signing.remote import MAX_BODY_BYTES
from epolicy.signing.verify import verify_pdf

pytestmark = pytest.mark.urls("config.signing_urls")

PREFIX = "/internal/signing/v1/"
FONT = "TestsSigningServiceWqy"
BOX = SignatureBox(page=0, x1=400, y1=80, x2=520, y2=200)
APPLICANT_BOX = SignatureBox(page=0, x1=60, y1=80, x2=260, y2=160)


def make_pdf(*, kind: str = "policy", number: str = "PDZA1") -> bytes:
    if FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(
            TTFont(FONT, "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", subfontIndex=0)
        )
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=(595.27, 841.89))
    c.setKeywords(f"epolicy-kind={kind}; epolicy-number={number}")
    c.setTitle("机动车交通事故责任强制保险单")
    c.setFont(FONT, 16)
    c.drawString(72, 770, "机动车交通事故责任强制保险单")
    c.setFont(FONT, 10)
    c.drawString(72, 740, f"保险单号 {number}  被保险人 张三  责任限额合计 人民币 200,000.00 元")
    c.showPage()
    c.save()
    return buf.getvalue()


def make_png() -> bytes:
    image = Image.new("RGBA", (600, 240), (0, 0, 0, 0))
    ImageDraw.Draw(image).line([(40, 200), (160, 40), (300, 190), (560, 60)], fill=(0, 0, 0, 255), width=7)
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def box_json(box: SignatureBox) -> dict:
    return {"page": box.page, "x1": box.x1, "y1": box.y1, "x2": box.x2, "y2": box.y2}


def epsign(method: str, path: str, body: bytes, *, secret: str | None = None, at: dt.datetime | None = None):
    """Authorization and X-EPSign-Time headers, computed from the documented scheme."""
    secret = secret if secret is not None else settings.SIGNING_SERVICE_TOKEN.split(",")[0]
    stamp = (at or dt.datetime.now(dt.UTC)).isoformat()
    canonical = "\n".join(["EPSign-v1", method, path, stamp, hashlib.sha256(body).hexdigest()])
    mac = hmac.new(secret.encode(), canonical.encode(), hashlib.sha256).hexdigest()
    kid = hashlib.sha256(b"epsign-key-id\0" + secret.encode()).hexdigest()[:16]
    return {"HTTP_AUTHORIZATION": f"EPSign {kid}:{mac}", "HTTP_X_EPSIGN_TIME": stamp}, mac


def call(client, op: str, payload=None, *, method: str = "POST", body: bytes | None = None, **sign_kwargs):
    path = PREFIX + op
    if body is None:
        body = json.dumps(payload).encode() if payload is not None else b""
    headers, mac = epsign(method, path, body, **sign_kwargs)
    response = client.generic(method, path, data=body, content_type="application/json", **headers)
    response.request_mac = mac
    return response


def response_is_authentic(response, *, secret: str | None = None) -> bool:
    secret = secret or settings.SIGNING_SERVICE_TOKEN.split(",")[0]
    canonical = "\n".join(
        [
            "EPSign-v1-response",
            response.request_mac,
            str(response.status_code),
            hashlib.sha256(response.content).hexdigest(),
        ]
    )
    expected = hmac.new(secret.encode(), canonical.encode(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(response.headers.get("X-EPSign-Response", ""), expected)


def assert_error(response, status: int, code: str):
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    data = response.json()
    assert data["code"] == code
    assert data["message"]
    return data


# ---------------------------------------------------------------------------------------------------------
# Signing


@pytest.mark.django_db
def test_seal_endpoint_returns_a_genuine_sealed_policy(client, pki):
    response = call(client, "seal", {"pdf": b64(make_pdf()), "box": box_json(BOX)})
    assert response.status_code == 200, response.content
    assert response_is_authentic(response)
    data = response.json()
    signed = base64.b64decode(data["pdf"])
    report = verify_pdf(signed)
    assert report.genuine, report.code
    assert report.document_kind == "policy" and report.document_number == "PDZA1"
    (sig,) = report.signatures
    assert sig.signer_role == "insurer" and sig.field_name == "insurer_seal"
    seal = SigningCredential.active_for(SigningCredential.Role.SEAL)
    assert seal is not None
    assert data["certificate_fingerprint"] == seal.fingerprint_sha256
    assert data["certificate_serial"] == sig.certificate_serial
    assert dt.datetime.fromisoformat(data["signed_at"]) == sig.timestamp_time


@pytest.mark.django_db
def test_application_endpoint_signs_with_an_event_certificate(client, pki):
    payload = {
        "pdf": b64(make_pdf(kind="application", number="TDZA1")),
        "box": box_json(APPLICANT_BOX),
        "signer_name": "张三",
        "subject_serial": "a1" * 16,
        "signature_png": b64(make_png()),
    }
    response = call(client, "application", payload)
    assert response.status_code == 200, response.content
    assert response_is_authentic(response)
    report = verify_pdf(base64.b64decode(response.json()["pdf"]))
    assert report.genuine, report.code
    (sig,) = report.signatures
    assert sig.signer_role == "applicant" and sig.signer_name == "张三"
    assert sig.certificate_serial == response.json()["certificate_serial"]


@pytest.mark.django_db
def test_health_names_the_seal_certificate(client, pki):
    response = call(client, "health", method="GET")
    assert response.status_code == 200, response.content
    assert response_is_authentic(response)
    data = response.json()
    assert data["status"] == "ok" and data["protocol"] == 1
    seal = SigningCredential.active_for(SigningCredential.Role.SEAL)
    assert seal is not None
    assert data["seal"]["certificate_fingerprint"] == seal.fingerprint_sha256


@pytest.mark.django_db
def test_without_pki_the_service_says_pki_missing(client):
    response = call(client, "seal", {"pdf": b64(make_pdf()), "box": box_json(BOX)})
    assert_error(response, 503, "pki_missing")
    assert response_is_authentic(response)


# ---------------------------------------------------------------------------------------------------------
# Authentication


def test_missing_authorization_is_refused(client):
    c = client
    response = c.post(PREFIX + "seal", data=b"{}", content_type="application/json")
    assert_error(response, 401, "auth_missing")
    assert "X-EPSign-Response" not in response.headers


def test_missing_timestamp_is_refused(client):
    body = b"{}"
    headers, _ = epsign("POST", PREFIX + "seal", body)
    del headers["HTTP_X_EPSIGN_TIME"]
    response = client.post(PREFIX + "seal", data=body, content_type="application/json", **headers)
    assert_error(response, 401, "auth_missing")


@pytest.mark.parametrize(
    "authorization",
    ["Bearer abc", "EPSign nokey", "EPSign abc:xyz", "EPSign abc:" + "0" * 63, "epsign abc:" + "0" * 64],
)
def test_malformed_authorization_is_refused(client, authorization):
    body = b"{}"
    headers, _ = epsign("POST", PREFIX + "seal", body)
    headers["HTTP_AUTHORIZATION"] = authorization
    response = client.post(PREFIX + "seal", data=body, content_type="application/json", **headers)
    assert_error(response, 401, "auth_missing")


def test_a_secret_the_service_does_not_know_is_refused(client):
    response = call(client, "seal", {}, secret="another-secret-of-at-least-32-characters")
    assert_error(response, 401, "auth_unknown_key")


def test_forged_mac_is_refused(client):
    body = json.dumps({"pdf": b64(make_pdf()), "box": box_json(BOX)}).encode()
    headers, mac = epsign("POST", PREFIX + "seal", body)
    forged = ("0" if mac[0] != "0" else "1") + mac[1:]
    headers["HTTP_AUTHORIZATION"] = headers["HTTP_AUTHORIZATION"].replace(mac, forged)
    response = client.post(PREFIX + "seal", data=body, content_type="application/json", **headers)
    assert_error(response, 401, "auth_invalid")


def test_mac_covers_the_body(client):
    body = json.dumps({"pdf": b64(make_pdf()), "box": box_json(BOX)}).encode()
    headers, _ = epsign("POST", PREFIX + "seal", body)
    tampered = body.replace(b'"page": 0', b'"page": 1')
    assert tampered != body
    response = client.post(PREFIX + "seal", data=tampered, content_type="application/json", **headers)
    assert_error(response, 401, "auth_invalid")


def test_mac_covers_the_path_and_method(client):
    body = b"{}"
    headers, _ = epsign("POST", PREFIX + "seal", body)
    response = client.post(PREFIX + "lta", data=body, content_type="application/json", **headers)
    assert_error(response, 401, "auth_invalid")
    headers, _ = epsign("POST", PREFIX + "health", b"")
    response = client.get(PREFIX + "health", **headers)
    assert_error(response, 401, "auth_invalid")


def test_mac_covers_the_timestamp(client):
    body = b"{}"
    headers, _ = epsign("POST", PREFIX + "seal", body)
    later = dt.datetime.fromisoformat(headers["HTTP_X_EPSIGN_TIME"]) + dt.timedelta(seconds=1)
    headers["HTTP_X_EPSIGN_TIME"] = later.isoformat()
    response = client.post(PREFIX + "seal", data=body, content_type="application/json", **headers)
    assert_error(response, 401, "auth_invalid")


@pytest.mark.parametrize("offset", [dt.timedelta(minutes=-6), dt.timedelta(minutes=6), dt.timedelta(days=-1)])
def test_stale_or_future_timestamp_is_refused(client, offset):
    response = call(client, "seal", {}, at=dt.datetime.now(dt.UTC) + offset)
    assert_error(response, 401, "auth_stale")


def test_timestamp_without_offset_is_refused(client):
    body = b"{}"
    naive = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    headers, _ = epsign("POST", PREFIX + "seal", body, at=naive)
    response = client.post(PREFIX + "seal", data=body, content_type="application/json", **headers)
    assert_error(response, 401, "auth_missing")


@pytest.mark.django_db
def test_timestamp_within_the_window_is_accepted(client, pki):
    response = call(client, "health", method="GET", at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=4))
    assert response.status_code == 200, response.content


@pytest.mark.django_db
def test_replayed_request_is_refused(client, pki):
    body = json.dumps({"pdf": b64(make_pdf()), "box": box_json(BOX)}).encode()
    headers, _ = epsign("POST", PREFIX + "seal", body)
    c = client
    first = c.post(PREFIX + "seal", data=body, content_type="application/json", **headers)
    assert first.status_code == 200, first.content
    again = c.post(PREFIX + "seal", data=body, content_type="application/json", **headers)
    assert_error(again, 401, "auth_replayed")


@pytest.mark.django_db
def test_every_listed_secret_is_accepted_and_answers_are_macd_with_it(client, pki, settings):
    settings.SIGNING_SERVICE_TOKEN = (
        "new-secret-0123456789abcdef0123456789, old-secret-0123456789abcdef012345678"
    )
    old = "old-secret-0123456789abcdef012345678"
    response = call(client, "health", method="GET", secret=old)
    assert response.status_code == 200, response.content
    assert response_is_authentic(response, secret=old)


# ---------------------------------------------------------------------------------------------------------
# Limits and bad input


def test_oversized_body_is_refused_with_413(client):
    body = b" " * (MAX_BODY_BYTES + 1)
    response = call(client, "seal", body=body)
    data = assert_error(response, 413, "body_too_large")
    assert data["details"]["limit"] == MAX_BODY_BYTES


@pytest.mark.parametrize("body", [b"{not json", b"\xff\xfe", b"[1, 2]", b'"pdf"', b""])
def test_body_that_is_not_a_json_object_is_refused_with_422(client, body):
    assert_error(call(client, "seal", body=body), 422, "invalid_json")


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"pdf": "not base64!!", "box": box_json(BOX)}, "pdf"),
        ({"pdf": "QUJD=extra", "box": box_json(BOX)}, "pdf"),
        ({"box": box_json(BOX)}, "pdf"),
        ({"pdf": b64(b"%PDF"), "box": {"page": "0", "x1": 1, "y1": 1, "x2": 2, "y2": 2}}, "box.page"),
        ({"pdf": b64(b"%PDF"), "box": {"page": 0, "x1": True, "y1": 1, "x2": 2, "y2": 2}}, "box.x1"),
        ({"pdf": b64(b"%PDF")}, "box"),
        ({"pdf": b64(b"%PDF"), "box": box_json(BOX), "reason": ""}, "reason"),
    ],
)
def test_bad_fields_are_refused_with_422(client, payload, field):
    data = assert_error(call(client, "seal", payload), 422, "invalid_request")
    assert data["details"]["field"] == field


@pytest.mark.django_db
def test_application_without_signer_is_refused(client, pki):
    payload = {"pdf": b64(make_pdf()), "box": box_json(APPLICANT_BOX), "signature_png": b64(make_png())}
    data = assert_error(call(client, "application", payload), 422, "invalid_request")
    assert data["details"]["field"] == "signer_name"


@pytest.mark.django_db
def test_a_file_that_is_not_a_pdf_is_refused_with_422(client, pki):
    payload = {"pdf": b64(b"this is not a PDF"), "box": box_json(BOX)}
    assert_error(call(client, "seal", payload), 422, "invalid_pdf")


@pytest.mark.django_db
def test_box_outside_the_document_is_refused_with_422(client, pki):
    payload = {"pdf": b64(make_pdf()), "box": box_json(SignatureBox(page=5, x1=1, y1=1, x2=50, y2=50))}
    data = assert_error(call(client, "seal", payload), 422, "invalid_request")
    assert "page" in data["details"]["reason"]


def test_wrong_method_is_refused(client):
    assert_error(call(client, "seal", method="GET"), 405, "method_not_allowed")


def test_unknown_endpoint_answers_json_404(client):
    assert_error(call(client, "stamp", {}), 404, "not_found")


def test_service_refuses_to_work_when_it_would_forward_to_itself(client, settings):
    settings.SIGNING_SERVICE_URL = "http://127.0.0.1:8765"
    assert_error(call(client, "seal", {}), 500, "service_misconfigured")


def test_the_service_urlconf_has_nothing_but_the_service(client):
    c = client
    for path in ("/admin/", "/api/v1/docs", "/console/", "/"):
        assert c.get(path).status_code == 404


# ---------------------------------------------------------------------------------------------------------
# LTA (epolicy.signing.lta is optional: 501 until it exists)


def test_lta_without_the_lta_module_is_501(client, monkeypatch):
    monkeypatch.setitem(sys.modules, "epolicy.signing.lta", None)
    assert_error(call(client, "lta", {"pdf": b64(b"%PDF-1.7")}), 501, "lta_unavailable")


def test_lta_module_without_lta_extend_is_501(client, monkeypatch):
    monkeypatch.setitem(sys.modules, "epolicy.signing.lta", types.ModuleType("epolicy.signing.lta"))
    assert_error(call(client, "lta", {"pdf": b64(b"%PDF-1.7")}), 501, "lta_unavailable")


def test_lta_calls_lta_extend(client, monkeypatch):
    module = types.ModuleType("epolicy.signing.lta")
    module.lta_extend = lambda pdf: pdf + b"\n% extended"  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "epolicy.signing.lta", module)
    response = call(client, "lta", {"pdf": b64(b"%PDF-1.7")})
    assert response.status_code == 200, response.content
    assert response_is_authentic(response)
    assert base64.b64decode(response.json()["pdf"]) == b"%PDF-1.7\n% extended"
