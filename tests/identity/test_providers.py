"""Identity-check providers: the sandbox behaves like the real services (pass, fail, timeout then retry,
expiry, idempotency by request_id), keeps personal data encrypted, and the HTTP adapter speaks its
signed contract to a stub vendor (retries, timeouts, forged answers)."""

from __future__ import annotations

import datetime as dt
import json
import string
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connection

from epolicy.common import clock
from epolicy.common.errors import ApplicationError
from epolicy.common.identifiers import id_number_check_char, luhn_check_digit
from epolicy.common.providers import get_provider
from epolicy.identity.models import SandboxIdentitySession, SandboxRealNameCheck
from epolicy.identity.providers import (
    ProviderUnavailable,
    UnknownReference,
    face_provider,
    realname_provider,
    video_provider,
)
from epolicy.identity.providers import http as idhttp
from epolicy.identity.providers.sandbox import SandboxFace, SandboxRealName, SandboxVideo

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 12, 7, 10, 0, tzinfo=clock.SHANGHAI)
NAME = "王小明"


def id_number(sequence: str = "123", birth: str = "19850612") -> str:
    first17 = f"110105{birth}{sequence}"
    return first17 + id_number_check_char(first17)


def card_ending(suffix: str, length: int = 19) -> str:
    """A Luhn-valid UnionPay-style card number whose last digits are `suffix` (the check digit included)."""
    width = length - 5 - len(suffix)
    for filler in range(10**width):
        payload = f"62220{filler:0{width}d}{suffix[:-1]}"
        if luhn_check_digit(payload) == suffix[-1]:
            return payload + suffix[-1]
    raise AssertionError(f"no card ends in {suffix}")


ID = id_number()
CARD = card_ending("7436")
PHONE = "13912345678"
RETURN_URL = "http://127.0.0.1:8000/m/identity/return/?step=face"


@pytest.fixture(autouse=True)
def _site(settings):
    settings.SITE_URL = "http://127.0.0.1:8000"


def verify(**overrides: str):
    args = {
        "name": NAME,
        "id_number": ID,
        "bank_card": CARD,
        "phone": PHONE,
        "request_id": "rq-1",
        **overrides,
    }
    return SandboxRealName().verify(**args)


# --- loading ------------------------------------------------------------------------------------


def test_settings_name_the_sandboxes_and_typed_loaders_return_them():
    assert isinstance(get_provider("realname"), SandboxRealName)
    assert isinstance(realname_provider(), SandboxRealName)
    assert isinstance(face_provider(), SandboxFace)
    assert isinstance(video_provider(), SandboxVideo)


def test_provider_unavailable_is_a_retryable_503_in_chinese():
    exc = ProviderUnavailable("face", "timeout")
    err = exc.as_application_error()
    assert isinstance(err, ApplicationError)
    assert (err.code, err.status) == ("identity_provider_unavailable", 503)
    assert "稍后重试" in err.message_zh
    assert err.details == {"provider": "face", "retryable": True}


# --- real-name four-element check ---------------------------------------------------------------


def test_realname_passes_a_consistent_person():
    with clock.frozen_clock(T0):
        result = verify()
    assert result.status == "passed"
    assert result.reason_zh == ""
    assert result.checked_at == T0
    assert result.reference.startswith("RN") and len(result.reference) == 26


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"bank_card": card_ending("0000")}, "银行卡与身份信息不一致"),
        ({"phone": "13912340000"}, "手机号码与银行预留手机号不一致"),
        ({"name": "王"}, "姓名格式不正确"),
        ({"name": "王" * 31}, "姓名格式不正确"),
        ({"id_number": ID[:-1] + ("1" if ID[-1] != "1" else "2")}, "身份证号码不正确"),
        ({"bank_card": CARD[:-1] + str((int(CARD[-1]) + 1) % 10)}, "银行卡号不正确"),
        ({"phone": "12912345678"}, "手机号码不正确"),
    ],
)
def test_realname_fails_by_the_documented_rules(overrides, reason):
    result = verify(**overrides)
    assert result.status == "failed"
    assert reason in result.reason_zh


def test_realname_card_ending_9999_times_out_first_then_the_retry_answers():
    card = card_ending("9999")
    with clock.frozen_clock(T0), pytest.raises(ProviderUnavailable) as raised:
        verify(bank_card=card, request_id="rq-slow")
    assert raised.value.kind == "realname"
    with clock.frozen_clock(T0 + dt.timedelta(seconds=30)):
        retry = verify(bank_card=card, request_id="rq-slow")
    # The vendor did the check the first time; only its answer was lost.
    assert (retry.status, retry.checked_at) == ("passed", T0)
    assert SandboxRealNameCheck.objects.filter(request_id="rq-slow").count() == 1
    # A new request is a new check: it times out once again.
    with pytest.raises(ProviderUnavailable):
        verify(bank_card=card, request_id="rq-slow-2")


def test_realname_timeout_then_retry_answers_a_failure_too():
    with pytest.raises(ProviderUnavailable):
        verify(bank_card=card_ending("9999"), phone="13900000000", request_id="rq-x")
    retry = verify(bank_card=card_ending("9999"), phone="13900000000", request_id="rq-x")
    assert retry.status == "failed" and "预留手机号" in retry.reason_zh


def test_realname_is_idempotent_by_request_id():
    first = verify(request_id="rq-same")
    again = verify(
        request_id="rq-same", bank_card=" ".join([CARD[:4], CARD[4:8], CARD[8:]])
    )  # same card, spaced
    assert again == first
    check = SandboxRealNameCheck.objects.get(request_id="rq-same")
    assert check.calls == 2
    assert verify(request_id="rq-other").reference != first.reference


def test_realname_request_id_reused_for_other_data_is_refused():
    verify(request_id="rq-a")
    with pytest.raises(ValueError, match="already used"):
        verify(request_id="rq-a", phone="13812345678")
    with pytest.raises(ValueError):
        verify(request_id="")
    with pytest.raises(ValueError):
        verify(request_id="x" * 65)


def test_realname_keeps_card_and_phone_masked_and_identity_encrypted():
    verify(request_id="rq-secret")
    check = SandboxRealNameCheck.objects.get(request_id="rq-secret")
    assert check.bank_card_masked == "**** **** **** 7436"
    assert check.phone_masked == "139****5678"
    assert (check.name, check.id_number) == (NAME, ID)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {SandboxRealNameCheck._meta.db_table}")  # noqa: S608
        raw = json.dumps(cursor.fetchall(), default=str, ensure_ascii=False)
    for secret in (ID, ID[:14], NAME, CARD, CARD[:12], PHONE):
        assert secret not in raw


# --- face verification ----------------------------------------------------------------------------


def start_face(request_id: str = "fq-1", **overrides: str):
    args = {"name": NAME, "id_number": ID, "request_id": request_id, "return_url": RETURN_URL, **overrides}
    return SandboxFace().start(**args)


def test_face_session_has_its_capture_page_and_ten_minutes():
    with clock.frozen_clock(T0):
        session = start_face()
    assert session.capture_url == f"http://127.0.0.1:8000/sandbox/identity/face/{session.reference}/"
    assert session.expires_at == T0 + dt.timedelta(minutes=10)
    # Asked within its ten minutes (on the frozen clock: the wall clock may be long past T0).
    with clock.frozen_clock(T0 + dt.timedelta(minutes=9)):
        result = SandboxFace().result(reference=session.reference)
    assert (result.status, result.liveness, result.score, result.completed_at) == (
        "pending",
        None,
        None,
        None,
    )


@pytest.mark.parametrize(
    ("outcome", "status", "liveness", "score"),
    [
        ("pass", "passed", True, 0.93),
        ("mismatch", "failed", True, 0.41),
        ("spoof", "failed", False, None),
        ("low", "passed", True, 0.72),
    ],
)
def test_face_outcomes_of_the_capture_page(outcome, status, liveness, score):
    face = SandboxFace()
    with clock.frozen_clock(T0):
        session = start_face()
    with clock.frozen_clock(T0 + dt.timedelta(minutes=2)):
        assert face.complete(reference=session.reference, outcome=outcome)
    result = face.result(reference=session.reference)
    assert (result.status, result.liveness, result.score) == (status, liveness, score)
    assert result.completed_at == T0 + dt.timedelta(minutes=2)
    assert (result.reason_zh == "") == (status == "passed")


def test_face_session_expires_after_ten_minutes_unless_completed():
    face = SandboxFace()
    with clock.frozen_clock(T0):
        open_one, done = start_face("fq-open"), start_face("fq-done")
    with clock.frozen_clock(T0 + dt.timedelta(minutes=9, seconds=59)):
        assert face.result(reference=open_one.reference).status == "pending"
        assert face.complete(reference=done.reference, outcome="pass")
    with clock.frozen_clock(T0 + dt.timedelta(minutes=10)):
        assert face.result(reference=open_one.reference).status == "expired"
        assert face.result(reference=done.reference).status == "passed"
        assert not face.complete(reference=open_one.reference, outcome="pass")  # too late
        assert face.result(reference=open_one.reference).status == "expired"


def test_face_session_completes_once():
    face = SandboxFace()
    session = start_face()
    assert face.complete(reference=session.reference, outcome="spoof")
    assert not face.complete(reference=session.reference, outcome="pass")
    assert face.result(reference=session.reference).status == "failed"
    with pytest.raises(ValueError):
        face.complete(reference=session.reference, outcome="nonsense")


def test_face_start_with_id_sequence_999_times_out_first_then_the_retry_returns_the_session():
    slow_id = id_number("999")
    with pytest.raises(ProviderUnavailable) as raised:
        start_face("fq-slow", id_number=slow_id)
    assert raised.value.kind == "face"
    retry = start_face("fq-slow", id_number=slow_id)
    assert SandboxIdentitySession.objects.get(kind="face", request_id="fq-slow").reference == retry.reference
    assert SandboxFace().result(reference=retry.reference).status == "pending"


def test_face_result_query_times_out_once_when_the_page_said_so():
    face = SandboxFace()
    session = start_face()
    face.complete(reference=session.reference, outcome="pass_slow")
    with pytest.raises(ProviderUnavailable):
        face.result(reference=session.reference)
    result = face.result(reference=session.reference)
    assert (result.status, result.score) == ("passed", 0.93)
    assert face.result(reference=session.reference) == result


def test_face_start_is_idempotent_by_request_id():
    first = start_face("fq-same")
    assert start_face("fq-same") == first
    assert start_face("fq-same", return_url=RETURN_URL + "&again=1") == first  # the first session stands
    assert start_face("fq-new").reference != first.reference
    with pytest.raises(ValueError, match="already used"):
        start_face("fq-same", name="李四")


def test_face_refuses_a_person_that_cannot_exist_at_once():
    session = start_face(id_number=ID[:-1] + ("1" if ID[-1] != "1" else "2"))
    result = SandboxFace().result(reference=session.reference)
    assert result.status == "failed" and "身份证号码" in result.reason_zh
    assert result.liveness is None and result.score is None


def test_face_return_url_must_be_on_the_site():
    for url in (
        "https://evil.example/cb",
        "http://127.0.0.1:8001/x",
        "/relative/path",
        "javascript:alert(1)",
    ):
        with pytest.raises(ValueError, match="return_url"):
            start_face(return_url=url)


def test_face_unknown_reference():
    with pytest.raises(UnknownReference):
        SandboxFace().result(reference="no-such-reference")
    video = SandboxVideo().start(name=NAME, id_number=ID, request_id="vq-1", return_url=RETURN_URL)
    with pytest.raises(UnknownReference):  # one kind's reference is not the other's
        SandboxFace().result(reference=video.reference)


def test_session_references_are_unguessable():
    refs = [start_face(f"fq-{i}").reference for i in range(200)]
    alphabet = set(string.ascii_letters + string.digits + "-_")
    assert len(set(refs)) == len(refs)
    assert all(len(r) >= 43 and set(r) <= alphabet for r in refs)  # 256 random bits, URL-safe
    assert len({r[:6] for r in refs}) == len(refs)  # no shared prefix, no counter
    # Characters are spread over the whole alphabet, as random bits would be.
    assert len(set("".join(refs))) >= 60
    # Not derived from the request: the same person and request id elsewhere gives an unrelated one.
    SandboxIdentitySession.objects.all().delete()
    assert start_face("fq-0").reference != refs[0]


def test_sessions_keep_identity_encrypted():
    start_face("fq-enc")
    SandboxVideo().start(name=NAME, id_number=ID, request_id="vq-enc", return_url=RETURN_URL)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {SandboxIdentitySession._meta.db_table}")  # noqa: S608
        raw = json.dumps(cursor.fetchall(), default=str, ensure_ascii=False)
    assert ID not in raw and ID[:14] not in raw and NAME not in raw
    assert SandboxIdentitySession.objects.get(request_id="vq-enc").id_number == ID


# --- video session --------------------------------------------------------------------------------


def start_video(request_id: str = "vq-1", **overrides: str):
    args = {"name": NAME, "id_number": ID, "request_id": request_id, "return_url": RETURN_URL, **overrides}
    return SandboxVideo().start(**args)


def test_video_session_room_and_agent_verdicts():
    video = SandboxVideo()
    with clock.frozen_clock(T0):
        yes, no = start_video("vq-yes"), start_video("vq-no")
    assert yes.room_url == f"http://127.0.0.1:8000/sandbox/identity/video/{yes.reference}/"
    assert yes.expires_at == T0 + dt.timedelta(minutes=30)
    # Within the session's half hour (on the frozen clock: the wall clock may be long past T0).
    with clock.frozen_clock(T0 + dt.timedelta(minutes=5)):
        pending = video.result(reference=yes.reference)
        assert (pending.status, pending.recording_reference, pending.agent) == ("pending", "", "")
        assert video.complete(reference=yes.reference, outcome="confirmed")
        assert video.complete(reference=no.reference, outcome="rejected")
        confirmed, rejected = video.result(reference=yes.reference), video.result(reference=no.reference)
    assert confirmed.status == "passed" and confirmed.reason_zh == "" and confirmed.agent
    assert rejected.status == "failed" and "本人" in rejected.reason_zh
    for result in (confirmed, rejected):  # the session was recorded either way
        assert result.recording_reference.startswith("REC") and result.completed_at is not None
    assert confirmed.recording_reference != rejected.recording_reference


def test_video_expiry_timeouts_and_idempotency():
    video = SandboxVideo()
    with clock.frozen_clock(T0):
        session = start_video()
    assert start_video() == session
    with clock.frozen_clock(T0 + dt.timedelta(minutes=30)):
        assert video.result(reference=session.reference).status == "expired"
        assert not video.complete(reference=session.reference, outcome="confirmed")
    with pytest.raises(ProviderUnavailable):
        start_video("vq-slow", id_number=id_number("999"))
    slow = start_video("vq-slow", id_number=id_number("999"))
    video.complete(reference=slow.reference, outcome="confirmed_slow")
    with pytest.raises(ProviderUnavailable) as raised:
        video.result(reference=slow.reference)
    assert raised.value.kind == "video"
    assert video.result(reference=slow.reference).status == "passed"


# --- the HTTP adapter against a stub vendor --------------------------------------------------------

SECRET = "test-identity-secret"


@dataclass
class Scripted:
    status: int = 200
    body: Any = None
    sign: bool = True
    delay: float = 0.0


@dataclass
class Stub:
    url: str
    script: list[Scripted] = field(default_factory=list)
    seen: list[dict[str, Any]] = field(default_factory=list)


@pytest.fixture
def stub() -> Iterator[Stub]:
    holder: dict[str, Stub] = {}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _answer(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            state = holder["stub"]
            headers = {k: v for k, v in self.headers.items()}
            problem = idhttp.check_request(
                [SECRET], method=self.command, path=self.path, headers=headers, body=body
            )
            state.seen.append(
                {
                    "method": self.command,
                    "path": self.path,
                    "headers": headers,
                    "body": body,
                    "problem": problem,
                }
            )
            step = state.script.pop(0) if state.script else Scripted(500, {"error": "no script"})
            if step.delay:
                time.sleep(step.delay)
            data = step.body if isinstance(step.body, bytes) else json.dumps(step.body).encode()
            status = 401 if problem else step.status
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            if step.sign:
                nonce = headers.get(idhttp.NONCE_HEADER, "")
                signature = idhttp.answer_signature(SECRET, status=status, nonce=nonce, body=data)
                self.send_header(idhttp.SIGNATURE_HEADER, signature)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = _answer

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    holder["stub"] = Stub(url=f"http://127.0.0.1:{server.server_address[1]}/idgw")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield holder["stub"]
    finally:
        server.shutdown()
        server.server_close()


def client(stub: Stub, kind: idhttp.Kind = "realname", **kwargs: Any) -> idhttp.HttpIdentityClient:
    return idhttp.HttpIdentityClient(kind, stub.url, f"{SECRET},old-secret", sleep=lambda s: None, **kwargs)


REALNAME_ANSWER = {
    "status": "passed",
    "reference": "V-1",
    "reason_zh": "",
    "checked_at": "2026-12-07T10:00:00+08:00",
}


def test_http_realname_signs_its_request_and_reads_the_answer(stub):
    stub.script = [Scripted(body=REALNAME_ANSWER)]
    result = idhttp.HttpRealName(client(stub)).verify(
        name=NAME, id_number=ID, bank_card=CARD, phone=PHONE, request_id="rq-h1"
    )
    assert (result.status, result.reference, result.checked_at) == ("passed", "V-1", T0)
    (request,) = stub.seen
    assert request["problem"] is None
    assert (request["method"], request["path"]) == ("POST", "/idgw/v1/realname/checks")
    assert request["headers"]["Idempotency-Key"] == "rq-h1"
    assert json.loads(request["body"]) == {
        "request_id": "rq-h1",
        "name": NAME,
        "id_number": ID,
        "bank_card": CARD,
        "phone": PHONE,
    }


def test_http_face_and_video_sessions(stub):
    stub.script = [
        Scripted(
            body={"reference": "F1", "capture_url": "https://v.example/f/F1", "expires_at": T0.isoformat()}
        ),
        Scripted(
            body={
                "status": "passed",
                "liveness": True,
                "score": 0.88,
                "reason_zh": "",
                "completed_at": T0.isoformat(),
            }
        ),
        Scripted(
            body={"reference": "V/1", "room_url": "https://v.example/v/1", "expires_at": T0.isoformat()}
        ),
        Scripted(body={"status": "pending", "completed_at": None}),
    ]
    face = idhttp.HttpFace(client(stub, "face"))
    session = face.start(name=NAME, id_number=ID, request_id="fq-h", return_url=RETURN_URL)
    assert (session.reference, session.expires_at) == ("F1", T0)
    result = face.result(reference="F1")
    assert (result.status, result.liveness, result.score) == ("passed", True, 0.88)
    video = idhttp.HttpVideo(client(stub, "video"))
    assert video.start(name=NAME, id_number=ID, request_id="vq-h", return_url=RETURN_URL).room_url.endswith(
        "/v/1"
    )
    pending = video.result(reference="V/1")
    assert (pending.status, pending.recording_reference, pending.completed_at) == ("pending", "", None)
    assert [s["path"] for s in stub.seen] == [
        "/idgw/v1/face/sessions",
        "/idgw/v1/face/sessions/F1",
        "/idgw/v1/video/sessions",
        "/idgw/v1/video/sessions/V%2F1",
    ]
    assert all(s["problem"] is None for s in stub.seen)


def test_http_retries_a_5xx_with_the_same_idempotency_key(stub):
    stub.script = [Scripted(503, {}), Scripted(body=REALNAME_ANSWER)]
    result = idhttp.HttpRealName(client(stub)).verify(
        name=NAME, id_number=ID, bank_card=CARD, phone=PHONE, request_id="rq-r"
    )
    assert result.status == "passed"
    first, second = stub.seen
    assert first["headers"]["Idempotency-Key"] == second["headers"]["Idempotency-Key"] == "rq-r"
    assert first["headers"][idhttp.NONCE_HEADER] != second["headers"][idhttp.NONCE_HEADER]


def test_http_outage_and_timeout_are_provider_unavailable(stub, caplog):
    stub.script = [Scripted(502, {}), Scripted(503, {})]
    with pytest.raises(ProviderUnavailable) as raised:
        idhttp.HttpRealName(client(stub)).verify(
            name=NAME, id_number=ID, bank_card=CARD, phone=PHONE, request_id="rq-o"
        )
    assert raised.value.kind == "realname" and len(stub.seen) == 2
    stub.script = [Scripted(503, {}), Scripted(503, {})]
    with pytest.raises(ProviderUnavailable):
        idhttp.HttpFace(client(stub, "face")).result(reference="SECRET-REF")
    logged = caplog.text + str(raised.value)
    assert "HTTP 503" in logged and "/face/sessions/{reference}" in logged
    for secret in (NAME, ID, CARD, PHONE, "SECRET-REF"):
        assert secret not in logged
    stub.script = [Scripted(body=REALNAME_ANSWER, delay=1.0)]
    with pytest.raises(ProviderUnavailable):
        idhttp.HttpRealName(client(stub, read_timeout=0.2, attempts=1)).verify(
            name=NAME, id_number=ID, bank_card=CARD, phone=PHONE, request_id="rq-t"
        )


def test_http_refuses_an_unsigned_or_forged_answer(stub):
    stub.script = [Scripted(body=REALNAME_ANSWER, sign=False)]
    with pytest.raises(ProviderUnavailable, match="signature"):
        idhttp.HttpRealName(client(stub)).verify(
            name=NAME, id_number=ID, bank_card=CARD, phone=PHONE, request_id="rq-f"
        )


def test_http_answers_not_by_the_contract(stub):
    face = idhttp.HttpFace(client(stub, "face"))
    stub.script = [Scripted(404, {"error": {"code": "not_found"}})]
    with pytest.raises(UnknownReference):
        face.result(reference="nope")
    for bad in (
        {"status": "maybe"},
        {"status": "passed", "score": 1.5},
        {"status": "passed", "liveness": "yes"},
        {"status": "passed", "completed_at": "2026-12-07T10:00:00"},  # not aware
    ):
        stub.script = [Scripted(body=bad)]
        with pytest.raises(ProviderUnavailable):
            face.result(reference="F1")
    stub.script = [Scripted(body=b"<html>")]
    with pytest.raises(ProviderUnavailable):
        face.result(reference="F1")
    stub.script = [Scripted(400, {"error": {"code": "bad_request"}})]
    with pytest.raises(ProviderUnavailable):
        face.result(reference="F1")


def test_http_configuration_is_checked(settings):
    settings.IDENTITY_HTTP_URL = ""
    settings.IDENTITY_HTTP_SECRET = "s"
    with pytest.raises(ImproperlyConfigured):
        idhttp.HttpFace()
    settings.IDENTITY_HTTP_URL = "http://idgw.example.com"  # personal data never in clear text
    with pytest.raises(ImproperlyConfigured, match="https"):
        idhttp.HttpFace()
    settings.IDENTITY_HTTP_URL = "https://idgw.example.com/epolicy"
    settings.IDENTITY_HTTP_SECRET = ""
    with pytest.raises(ImproperlyConfigured, match="SECRET"):
        idhttp.HttpFace()
    settings.IDENTITY_HTTP_SECRET = "s"
    assert idhttp.HttpFace().name == "http"


def test_a_request_signature_is_checked_on_the_server_side():
    headers = idhttp.signed_request_headers(
        SECRET, method="POST", path="/v1/x", body=b"{}", idempotency_key="k"
    )
    assert idhttp.check_request([SECRET], method="POST", path="/v1/x", headers=headers, body=b"{}") is None
    assert idhttp.check_request(["other"], method="POST", path="/v1/x", headers=headers, body=b"{}")
    assert idhttp.check_request([SECRET], method="POST", path="/v1/x", headers=headers, body=b"{ }")
    assert idhttp.check_request([SECRET], method="POST", path="/v1/y", headers=headers, body=b"{}")
    stale = idhttp.signed_request_headers(SECRET, method="GET", path="/v1/x", body=b"", now=time.time() - 600)
    assert "window" in (
        idhttp.check_request([SECRET], method="GET", path="/v1/x", headers=stale, body=b"") or ""
    )
