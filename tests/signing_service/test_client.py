"""The client against the service's views (its transport routed through Django's test client), and
against nothing at all (a closed port)."""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

import pytest
from django.test import Client, override_settings

from epolicy.common.errors import ApplicationError
from epolicy.signing import signers
from epolicy.signing.remote import client as remote
from epolicy.signing.signers import SignedResult
from epolicy.signing.verify import verify_pdf

from .test_endpoints import APPLICANT_BOX, BOX, make_pdf, make_png

pytestmark = pytest.mark.urls("config.signing_urls")


@pytest.fixture
def service(settings, monkeypatch):
    """Route the client's HTTP exchanges to the service's views in this process; record them."""
    settings.SIGNING_SERVICE_URL = "http://signing.internal:8765"
    exchanges: list[dict] = []
    tamper: dict = {}

    def transport(method, url, headers, body):
        extra = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items() if k != "Content-Type"}
        body = tamper.get("request", lambda b: b)(body)
        # The service process has no SIGNING_SERVICE_URL (the command refuses to start otherwise).
        with override_settings(SIGNING_SERVICE_URL=""):
            response = Client().generic(
                method, urlsplit(url).path, data=body, content_type="application/json", **extra
            )
        exchanges.append({"method": method, "url": url, "status": response.status_code})
        content = tamper.get("response", lambda b: b)(response.content)
        return remote.Response(
            response.status_code, {k.lower(): v for k, v in response.headers.items()}, content
        )

    monkeypatch.setattr(remote, "_transport", transport)

    class Service:
        calls = exchanges
        tampering = tamper

    return Service


@pytest.mark.django_db
def test_client_seal_returns_a_signed_result_that_verifies(pki, service):
    result = remote.seal_document(make_pdf(), box=BOX)
    assert isinstance(result, SignedResult)
    report = verify_pdf(result.pdf)
    assert report.genuine and report.document_number == "PDZA1"
    assert report.signatures[0].timestamp_time == result.signed_at
    assert result.signed_at.tzinfo is not None
    assert service.calls == [
        {"method": "POST", "url": "http://signing.internal:8765/internal/signing/v1/seal", "status": 200}
    ]


@pytest.mark.django_db
def test_client_sign_application(pki, service):
    result = remote.sign_application(
        make_pdf(kind="application", number="TDZA1"),
        box=APPLICANT_BOX,
        signer_name="李四",
        subject_serial="b2" * 16,
        signature_png=make_png(),
    )
    report = verify_pdf(result.pdf)
    assert report.genuine
    assert report.signatures[0].signer_name == "李四"
    assert report.signatures[0].certificate_serial == result.certificate_serial


@pytest.mark.django_db
def test_client_health(pki, service):
    data = remote.health()
    assert data["status"] == "ok"
    assert data["seal"]["certificate_fingerprint"]


@pytest.mark.django_db
def test_the_service_prefix_of_the_url_is_kept(pki, service, settings):
    settings.SIGNING_SERVICE_URL = "http://signing.internal:8765/"
    remote.health()
    assert service.calls[-1]["url"] == "http://signing.internal:8765/internal/signing/v1/health"


@pytest.mark.django_db
def test_application_errors_of_the_signing_function_come_back_as_they_are(service):
    with pytest.raises(ApplicationError) as exc:
        remote.seal_document(make_pdf(), box=BOX)
    assert exc.value.code == "pki_missing"
    assert "pki_init" in exc.value.message_zh


@pytest.mark.django_db
def test_refused_arguments_are_value_errors(pki, service):
    with pytest.raises(ValueError, match="invalid_pdf"):
        remote.seal_document(b"not a pdf", box=BOX)
    with pytest.raises(ValueError, match="invalid_request"):
        remote.sign_application(
            make_pdf(), box=APPLICANT_BOX, signer_name="李四", subject_serial="b2" * 16, signature_png=b"x"
        )


def test_too_large_a_document_is_refused_before_sending(service):
    with pytest.raises(ValueError, match="exceeds"):
        remote.seal_document(b"%" * (16 * 1024 * 1024), box=BOX)
    assert service.calls == []


@pytest.mark.django_db
def test_credentials_the_service_refuses_make_it_unavailable(pki, service):
    service.tampering["request"] = lambda body: body.replace(b'"page": 0', b'"page": 1')
    with pytest.raises(ApplicationError) as exc:
        remote.seal_document(make_pdf(), box=BOX)
    assert exc.value.code == "pki_missing" and exc.value.status == 503
    assert exc.value.message_zh == "签章服务不可用，请稍后重试。"
    assert exc.value.details == {"reason": "auth_invalid"}


@pytest.mark.django_db
def test_an_answer_that_is_not_from_the_service_is_not_used(pki, service):
    service.tampering["response"] = lambda body: body.replace(
        b'"certificate_serial":"', b'"certificate_serial":"f'
    )
    with pytest.raises(ApplicationError) as exc:
        remote.seal_document(make_pdf(), box=BOX)
    assert exc.value.details == {"reason": "response_unauthenticated"}


@pytest.mark.django_db
def test_lta_unavailable_on_the_service(service, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "epolicy.signing.lta", None)
    with pytest.raises(ApplicationError) as exc:
        remote.lta_extend(make_pdf())
    assert exc.value.code == "pki_missing" and exc.value.details == {"reason": "lta_unavailable"}


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_service_down_is_pki_missing_and_only_health_is_retried(settings, monkeypatch):
    settings.SIGNING_SERVICE_URL = f"http://127.0.0.1:{_closed_port()}"
    monkeypatch.setattr(remote, "HEALTH_BACKOFF_SECONDS", 0.01)
    attempts: list[str] = []
    real = remote._transport

    def counting(method, url, headers, body):
        attempts.append(url.rsplit("/", 1)[1])
        return real(method, url, headers, body)

    monkeypatch.setattr(remote, "_transport", counting)
    with pytest.raises(ApplicationError) as exc:
        remote.seal_document(make_pdf(), box=BOX)
    assert (exc.value.code, exc.value.status) == ("pki_missing", 503)
    assert exc.value.message_zh == "签章服务不可用，请稍后重试。"
    assert exc.value.details == {"reason": "unreachable"}
    assert attempts == ["seal"]
    with pytest.raises(ApplicationError):
        remote.health()
    assert attempts == ["seal", "health", "health", "health"]


def test_a_service_that_accepts_but_never_answers_times_out(settings, monkeypatch):
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        settings.SIGNING_SERVICE_URL = f"http://127.0.0.1:{listener.getsockname()[1]}"
        monkeypatch.setattr(remote, "READ_TIMEOUT", 0.3)
        with pytest.raises(ApplicationError) as exc:
            remote.seal_document(make_pdf(), box=BOX)
    assert exc.value.details == {"reason": "unreachable"}


@pytest.mark.parametrize("url", ["ftp://signing.internal", "signing.internal:8765", "http://h:1/?x=1"])
def test_a_bad_service_url_is_a_configuration_error(settings, url):
    from django.core.exceptions import ImproperlyConfigured

    settings.SIGNING_SERVICE_URL = url
    with pytest.raises(ImproperlyConfigured):
        remote.health()


# ---------------------------------------------------------------------------------------------------------
# The signers' dispatch (active once `signers` hands the work to the service when SIGNING_SERVICE_URL is set)


def _dispatches(function) -> bool:
    import inspect

    return "SIGNING_SERVICE_URL" in inspect.getsource(function)


@pytest.mark.skipif(
    not _dispatches(signers.seal_document), reason="signers.seal_document does not dispatch yet"
)
@pytest.mark.django_db
def test_signers_seal_document_goes_to_the_service_when_configured(pki, service):
    result = signers.seal_document(make_pdf(), box=BOX)
    assert [c["url"].rsplit("/", 1)[1] for c in service.calls] == ["seal"]
    assert verify_pdf(result.pdf).genuine


@pytest.mark.skipif(
    not _dispatches(signers.sign_application), reason="signers.sign_application does not dispatch yet"
)
@pytest.mark.django_db
def test_signers_sign_application_goes_to_the_service_when_configured(pki, service):
    result = signers.sign_application(
        make_pdf(kind="application", number="TDZA1"),
        box=APPLICANT_BOX,
        signer_name="李四",
        subject_serial="b2" * 16,
        signature_png=make_png(),
    )
    assert [c["url"].rsplit("/", 1)[1] for c in service.calls] == ["application"]
    assert verify_pdf(result.pdf).genuine
