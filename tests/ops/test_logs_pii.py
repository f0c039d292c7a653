"""No personal data in the logs: whole journeys with every logger at DEBUG, in both formats, then a search of
everything written for the people's names, ID numbers, phone numbers, e-mail and postal addresses (and, for
motor, the vehicle's plate, VIN and engine number, which the platform encrypts like personal data).

Motor (through the API as a partner system and the applicant's link): create, approve, read, sign, SMS code
(a wrong one first), a payment by someone else (refused and refunded), the applicant's own payment through
the sandbox gateway, issuance and its e-mail, the policy query by number + ID number + plate, the QR
verification and the verification of the issued PDF (API and page). Life: a self-service address change
(sign-in by SMS, binding by name + ID number, confirmation by SMS code).
"""

from __future__ import annotations

import io
import logging

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from epolicy.common.jsonlog import JsonFormatter, TextFormatter
from epolicy.common.logredact import RedactSecretsFilter
from epolicy.common.requestid import RequestIdFilter
from epolicy.identity import captcha as captcha_module
from tests.conftest import application_payload
from tests.motor.test_api_journey import API, approved, pay, read_all, sign
from tests.selfservice.conftest import EMAIL, ID_NUMBER, NAME, PHONE, last_code, life_demo  # noqa: F401

pytestmark = pytest.mark.django_db

OTHER_PAYER = ("王二小", "11010519491231002X")


@pytest.fixture
def logged():
    """Every logger at DEBUG into two handlers configured like settings.LOGGING's (text and JSON)."""
    streams = {"text": io.StringIO(), "json": io.StringIO()}
    handlers = []
    for name, formatter in (("text", TextFormatter()), ("json", JsonFormatter())):
        handler = logging.StreamHandler(streams[name])
        handler.setLevel(logging.DEBUG)
        handler.addFilter(RequestIdFilter())
        handler.addFilter(RedactSecretsFilter())
        handler.setFormatter(formatter)
        handlers.append(handler)
    manager = logging.root.manager
    loggers = [logging.root] + [lg for lg in manager.loggerDict.values() if isinstance(lg, logging.Logger)]
    saved = [(lg, lg.level, lg.disabled) for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.DEBUG)
        lg.disabled = False
        if not lg.propagate:  # e.g. django.server: give it the handlers itself
            for h in handlers:
                lg.addHandler(h)
    for h in handlers:
        logging.root.addHandler(h)
    yield streams
    for h in handlers:
        logging.root.removeHandler(h)
    for lg, level, disabled in saved:
        lg.setLevel(level)
        lg.disabled = disabled
        for h in handlers:
            if h in lg.handlers:
                lg.removeHandler(h)


def find_leaks(streams, values):
    leaks = {}
    for fmt, stream in streams.items():
        for line in stream.getvalue().splitlines():
            for value in values:
                if value and value in line:
                    leaks.setdefault(value, []).append(f"[{fmt}] {line[:300]}")
    return leaks


def test_motor_journey_logs_no_personal_data(client, system, pki, logged, monkeypatch):
    from epolicy.motor.journey import latest_sms_code
    from epolicy.motor.models import Application
    from epolicy.policies.models import Policy

    body = application_payload(seed=11)
    applicant = body["applicant"]
    people = [applicant[k] for k in ("name", "id_number", "phone", "email", "address")]
    people += [body["vehicle"][k] for k in ("plate", "vin", "engine_number")]
    # A refused application logs nothing of the person either.
    bad = dict(body, applicant={**applicant, "id_number": applicant["id_number"][:-1] + "0"})
    system.post(f"{API}/motor/applications", bad)

    number, token = approved(system)
    app = Application.objects.get(number=number)
    people += [app.applicant.name, app.applicant.id_number, app.applicant.phone, app.applicant.email]
    people += [app.insured.name, app.insured.id_number, app.owner.name, app.owner.id_number]
    read_all(client, token)
    assert sign(client, token).status_code == 200
    sent = client.post(f"{API}/customer/applications/{token}/otp")
    wrong = client.post(
        f"{API}/customer/applications/{token}/otp/verify", {"code": "000000"}, content_type="application/json"
    )
    assert wrong.status_code in (409, 422)
    code = latest_sms_code(sent.json()["phone_masked"])
    ok = client.post(
        f"{API}/customer/applications/{token}/otp/verify", {"code": code}, content_type="application/json"
    )
    assert ok.status_code == 200, ok.content

    # Someone else pays first: refused, refunded; then the applicant pays and the policy is issued.
    pay(client, token, name=OTHER_PAYER[0], id_number=OTHER_PAYER[1])
    client.post(f"{API}/customer/applications/{token}/otp")
    code = latest_sms_code(sent.json()["phone_masked"])
    client.post(
        f"{API}/customer/applications/{token}/otp/verify", {"code": code}, content_type="application/json"
    )
    pay(client, token)
    policy = Policy.objects.get(application=app)

    # The public query by number + ID number + plate, and its mismatch.
    monkeypatch.setattr(captcha_module, "new_answer", lambda: "AB3D")
    for id_number in (app.applicant.id_number, OTHER_PAYER[1]):
        captcha = client.post(f"{API}/public/captcha").json()
        client.post(
            f"{API}/public/policies/query",
            {
                "policy_number": policy.number,
                "id_number": id_number,
                "plate": policy.plate,
                "captcha_id": captcha["captcha_id"],
                "captcha_answer": "ab3d",
            },
            content_type="application/json",
        )
    # The QR page, and the verification of the issued PDF (API and page).
    client.get(f"/v/{policy.number}?c={policy.verify_code}")
    from epolicy.archive.services import archive_read

    pdf = archive_read(policy.document)
    verified = client.post(
        f"{API}/public/verify", {"file": SimpleUploadedFile("p.pdf", pdf, content_type="application/pdf")}
    )
    assert verified.status_code == 200 and verified.json()["genuine"] is True
    client.post("/verify/", {"file": SimpleUploadedFile("p.pdf", pdf, content_type="application/pdf")})

    written = logged["text"].getvalue()
    assert written and logged["json"].getvalue(), "nothing was logged: the capture is broken"
    people += list(OTHER_PAYER)
    leaks = find_leaks(logged, sorted(set(people)))
    assert not leaks, leaks


def test_life_self_service_logs_no_personal_data(client, life_demo, logged):  # noqa: F811
    number = life_demo["endowment_in_force"]
    api = "/api/v1/selfservice"

    def post(path, body=None, token=None):
        extra = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
        return client.post(api + path, body or {}, content_type="application/json", **extra)

    from epolicy.selfservice.accounts import agreement_current

    post("/login/code", {"phone": PHONE})
    post("/login", {"phone": PHONE, "code": "000000"})  # a wrong code first
    token = post("/login", {"phone": PHONE, "code": last_code(PHONE)}).json()["token"]
    post("/policies", {"policy_number": number, "name": "李四", "id_number": "11010519491231002X"}, token)
    assert (
        post("/policies", {"policy_number": number, "name": NAME, "id_number": ID_NUMBER}, token).status_code
        == 200
    )
    doc = agreement_current()
    post("/agreement/accept", {"version": doc.version, "sha256": doc.sha256}, token)
    address = "北京市朝阳区建国路88号"
    started = post(
        f"/policies/{number}/requests",
        {"item": "address_change", "fields": {"address": address, "postcode": "100022"}},
        token,
    )
    assert started.status_code == 201, started.content
    req = started.json()
    post(f"/requests/{req['id']}/acknowledge", {"impact_sha256": req["impact"]["sha256"]}, token)
    post(f"/requests/{req['id']}/sms?confirmation=true", {}, token)
    done = post(f"/requests/{req['id']}/confirm/sms", {"code": last_code(PHONE)}, token)
    assert done.status_code == 200 and done.json()["status"] == "applied"

    assert logged["json"].getvalue(), "nothing was logged: the capture is broken"
    leaks = find_leaks(logged, [NAME, ID_NUMBER, PHONE, EMAIL, address, "李四", "11010519491231002X"])
    assert not leaks, leaks


def test_gunicorns_own_log_is_redacted_and_in_the_applications_format(monkeypatch, tmp_path):
    """A malformed request line is logged by gunicorn itself, outside Django: it quotes the raw path,
    which may hold an applicant's link token or an ID number."""
    import importlib.util
    import json
    import logging.config
    from pathlib import Path

    from django.conf import settings

    monkeypatch.setenv("EPOLICY_LOG_FORMAT", "json")
    # The config sets PROMETHEUS_MULTIPROC_DIR when absent: set here, so that it is unset again afterwards.
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    spec = importlib.util.spec_from_file_location(
        "gunicorn_conf_logs", Path(settings.BASE_DIR) / "config/gunicorn.conf.py"
    )
    conf = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(conf)
    config = dict(conf.logconfig_dict)
    stream = io.StringIO()
    config["handlers"] = {"console": {**config["handlers"]["console"], "stream": stream}}
    logger = logging.getLogger("gunicorn.error")
    saved = (logger.handlers[:], logger.propagate, logger.level)
    try:
        logging.config.dictConfig(config)
        logger.warning(
            "Invalid request from ip=%s: %s", "127.0.0.1", "'GET /m/a/11010519750504838X\x01 HTTP/1.1'"
        )
    finally:
        logger.handlers[:], logger.propagate = saved[0], saved[1]
        logger.setLevel(saved[2])
        logging.config.dictConfig(settings.LOGGING)
    line = json.loads(stream.getvalue().strip().splitlines()[-1])
    assert line["logger"] == "gunicorn.error" and "[redacted]" in line["message"]
    assert "11010519750504838X" not in stream.getvalue()
