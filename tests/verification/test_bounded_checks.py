"""Every check of an uploaded file runs in a worker process with a time and a memory limit."""

import contextlib
import logging
import os
import time
from pathlib import Path

import pytest

from epolicy.common import clock
from epolicy.verification import sandbox, worker
from epolicy.verification.report import MESSAGES, CheckReport
from epolicy.verification.services import verify_document

from . import hostile
from .conftest import upload

pytestmark = pytest.mark.django_db


def _worker_pids() -> list[int]:
    server = sandbox._server._process
    assert server is not None
    children = Path(f"/proc/{server.pid}/task/{server.pid}/children")
    return [int(pid) for pid in children.read_text().split()] if children.exists() else []


def test_genuine_policy_is_checked_in_a_worker(genuine_pdf, issued):
    result = verify_document(genuine_pdf)
    assert result.genuine and result.code == "genuine"
    assert result.report.check_ms is not None  # measured inside the worker, which only the worker reports
    assert result.policy == issued and result.byte_identical
    # The worker and the in-process check agree, check by check.
    inline = verify_document(genuine_pdf, bounded=False)
    assert inline.as_json()["signatures"] == result.as_json()["signatures"]


@pytest.fixture
def warm(pki):
    """The fork server running already (the first check of a process starts it; that takes a second)."""
    verify_document(b"%PDF-1.7\n")


def test_slow_file_gets_check_timeout_not_a_hung_request(client, warm, settings):
    settings.VERIFY_CHECK_TIMEOUT_SECONDS = 0.3
    slow = hostile.many_revisions(60_000)  # about 6 s of parsing here; 9 MB, under the upload limit
    assert len(slow) < settings.VERIFY_MAX_UPLOAD_BYTES
    started = time.monotonic()
    resp = upload(client, slow)
    elapsed = time.monotonic() - started
    assert resp.status_code == 200, resp.content
    report = resp.json()
    assert report["code"] == "check_timeout" and report["genuine"] is False and report["completed"] is False
    assert (
        report["message"]
        == MESSAGES["check_timeout"]
        == ("文件过于复杂，无法在规定时间内完成验证，请向保险公司重新获取电子保单。")
    )
    assert report["signatures"] == [] and report["policy"] is None
    # The worker's own alarm ended it at 0.3 s: the web process would only give up after 0.3 s + the
    # 2 s grace time, and the CPU-time backstop only after 2 s. (The rest is uploading 9 MB on a loaded
    # machine; this bounds the mechanism, it does not measure speed.)
    assert elapsed < 2.2


def test_timed_out_worker_is_gone_and_the_next_check_works(warm, settings, genuine_pdf):
    settings.VERIFY_CHECK_TIMEOUT_SECONDS = 0.3
    slow = hostile.many_revisions(60_000)
    started = time.monotonic()
    assert verify_document(slow).code == "check_timeout"
    assert time.monotonic() - started < 1.5
    deadline = time.monotonic() + 0.5
    while _worker_pids() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert _worker_pids() == []  # the worker ended itself at its deadline; nothing keeps running
    settings.VERIFY_CHECK_TIMEOUT_SECONDS = 10
    assert verify_document(genuine_pdf).genuine


def test_memory_blowup_gets_check_failed(pki, settings, genuine_pdf):
    verify_document(genuine_pdf)  # starts the fork server
    baseline = sandbox.worker_baseline_bytes()
    if baseline is None:
        pytest.skip("needs /proc to see where a worker starts")
    settings.VERIFY_CHECK_MEMORY_BYTES = baseline + 40 * 1024 * 1024
    # The memory limit, not the time limit, is what this file must meet: on a slow or busy machine the
    # default 10 s ran out first (check_timeout) while the file was still being read.
    settings.VERIFY_CHECK_TIMEOUT_SECONDS = 30
    # The limit leaves room for a real check...
    assert verify_document(genuine_pdf).genuine
    # ...but not for a file whose 30 000 revisions take well over 100 MB to read.
    result = verify_document(hostile.many_revisions(30_000))  # ~1 s to the limit on a quiet machine
    assert result.code == "check_failed" and not result.genuine
    assert result.as_json()["message"] == MESSAGES["check_failed"]
    assert "验证" in result.message_zh


def test_time_limit_does_not_count_the_fork_server_start(pki, settings, genuine_pdf):
    """Even the first check of a process, which waits for the fork server, gets its whole time."""
    sandbox._server._stop()
    settings.VERIFY_CHECK_TIMEOUT_SECONDS = 0.5
    assert verify_document(genuine_pdf).genuine


def test_default_limits():
    limits = sandbox.Limits.from_settings()
    assert limits.timeout_seconds == 10.0 and limits.memory_bytes == 1024**3


@pytest.mark.parametrize(
    "payload",
    [
        {"outcome": "ok"},
        {"outcome": "ok", "report": "genuine"},
        {"outcome": "ok", "report": {"code": 5}},
        {"outcome": "ok", "report": {"code": ""}},
        {"outcome": "ok", "report": {"code": "genuine", "signatures": [{"signer_name": ["x"]}]}},
        {"outcome": "ok", "report": {"code": "genuine", "document_sha256": "0" * 64}},
        {"outcome": "error", "error": "boom"},
        {"outcome": "memory"},
        {"outcome": "surprise"},
        {},
    ],
)
def test_unusable_worker_answers_are_check_failed(payload):
    report = CheckReport.from_payload(payload, "a" * 64)
    assert report.code == "check_failed" and not report.genuine and not report.completed
    assert report.message_zh == MESSAGES["check_failed"]


@pytest.mark.parametrize(
    "raw", [b"", b"not json", b"[1, 2]", b'{"outcome": "timeout"}', b'{"outcome": "ok"}']
)
def test_worker_answer_parsing(raw):
    assert sandbox._parse(raw)["outcome"] == "error"


def test_worker_refuses_the_database(pki, monkeypatch, genuine_pdf, caplog):
    """A verifier that starts to read the database inside the worker is a failed check, said loudly."""
    import pickle

    from epolicy.policies.models import Policy
    from epolicy.signing import verify

    real = verify.verify_pdf

    def reads_the_database(data, *, at=None, trust=None):
        # The real verifier swallows every exception a file can cause, too.
        with contextlib.suppress(Exception):
            Policy.objects.count()
        return real(data, at=at, trust=trust)

    monkeypatch.setattr(verify, "verify_pdf", reads_the_database)
    trust = pickle.loads(worker.current_trust())  # noqa: S301 — our own bytes
    with caplog.at_level(logging.ERROR, logger="epolicy.verification.worker"):
        payload = worker.check_isolated(genuine_pdf, trust, clock.now())
    assert payload["outcome"] == "error"
    assert "tried to use the database" in caplog.text
    assert Policy.objects.count() == 1  # this process's connection is untouched

    monkeypatch.setattr(verify, "verify_pdf", real)
    assert worker.check_isolated(genuine_pdf, trust, clock.now())["report"]["code"] == "genuine"


@pytest.mark.parametrize(
    ("error", "outcome"),
    [(MemoryError(), "memory"), (SystemError("error return without exception set"), "error")],
)
def test_checker_failure_the_verifier_swallowed_is_noticed(pki, monkeypatch, error, outcome):
    """verify_pdf calls every exception "malformed"; running out of memory is not the file's verdict."""
    import pickle

    from epolicy.signing import verify

    real = verify.verify_pdf
    level = verify.logger.level

    def fails_inside(data, *, at=None, trust=None):
        try:
            raise error
        except Exception as exc:  # as verify_pdf does: log it and call the file malformed
            verify.logger.info("verify_pdf: unreadable PDF %s: %r", "x", exc)
        return real(b"%PDF-1.7\n", at=at, trust=trust)

    monkeypatch.setattr(verify, "verify_pdf", fails_inside)
    trust = pickle.loads(worker.current_trust())  # noqa: S301 — our own bytes
    assert worker.check_isolated(b"%PDF-1.7\n", trust, clock.now())["outcome"] == outcome
    assert verify.logger.level == level
    report = CheckReport.from_payload({"outcome": outcome}, "a" * 64)
    assert report.code == "check_failed"


def test_without_pki_the_api_says_so(client, db):
    resp = upload(client, b"%PDF-1.7\n%%EOF\n")
    assert resp.status_code == 503 and resp.json()["code"] == "pki_missing"


def test_fork_server_belongs_to_this_process(pki, genuine_pdf):
    verify_document(genuine_pdf)
    server = sandbox._server._process
    assert server is not None and server.poll() is None
    status = Path(f"/proc/{server.pid}/status").read_text()
    assert f"PPid:\t{os.getpid()}" in status


def test_concurrent_checks_share_one_fork_server(pki, genuine_pdf, monkeypatch):
    """Threads of one web process check at the same time; each gets its own worker and answer."""
    from concurrent.futures import ThreadPoolExecutor

    trust = worker.current_trust()
    monkeypatch.setattr(worker, "current_trust", lambda: trust)  # the threads have no test database
    tampered = bytearray(genuine_pdf)
    tampered[len(tampered) // 3] ^= 0x01
    files = [genuine_pdf, bytes(tampered)] * 4
    now = clock.now()
    with ThreadPoolExecutor(max_workers=8) as pool:
        payloads = list(pool.map(lambda data: sandbox.run_bounded(data, at=now), files))
    codes = [p["report"]["code"] for p in payloads]
    assert codes[0::2] == ["genuine"] * 4 and "genuine" not in codes[1::2]


def _restart_fork_server() -> None:
    with sandbox._server._lock:
        sandbox._server._stop()


def test_the_fork_server_prepares_before_its_first_fork(pki, genuine_pdf, issued):
    """Workers find the platform's own certificates parsed and a sample check done (worker.WarmUp)."""
    warm_up = worker.WarmUp.gather()
    assert len(warm_up.certificates) == len(pki)  # every credential's certificate, newest first
    assert warm_up.sample == genuine_pdf and warm_up.trust  # the newest archived e-policy
    assert warm_up.apply()[1] == "genuine"  # the sample's check, as the server runs it
    _restart_fork_server()
    payload = sandbox.run_bounded(genuine_pdf, at=clock.now())
    assert payload["report"]["code"] == "genuine"
    assert payload["certificates_parsed_before"] >= len(set(warm_up.certificates))


@pytest.mark.parametrize(
    "warm_up",
    [
        worker.WarmUp(certificates=[]),  # a fresh install: nothing to prepare
        worker.WarmUp(
            certificates=[b"not a certificate", b"\x30\x03\x02\x01\x01"], trust=b"junk", sample=b"%PDF-"
        ),
    ],
)
def test_a_fork_server_warmed_with_nothing_usable_still_checks(pki, genuine_pdf, monkeypatch, warm_up):
    monkeypatch.setattr(worker.WarmUp, "gather", classmethod(lambda cls: warm_up))
    _restart_fork_server()
    payload = sandbox.run_bounded(genuine_pdf, at=clock.now())
    assert payload["report"]["code"] == "genuine"
    assert payload["certificates_parsed_before"] == 0
    _restart_fork_server()  # the next tests get a server warmed as usual


def test_a_slow_archive_leaves_the_sample_out_of_the_warm_up(issued, monkeypatch):
    """The first check of a web process waits for the warm-up: a slow bucket is waited for briefly."""
    from epolicy.archive import storage

    real = storage.WriteOnceStorage.open

    def slow_open(self, name, mode="rb"):
        time.sleep(1.0)
        return real(self, name, mode)

    monkeypatch.setattr(storage.WriteOnceStorage, "open", slow_open)
    monkeypatch.setattr(worker, "WARM_SAMPLE_READ_SECONDS", 0.1)
    started = time.monotonic()
    warm_up = worker.WarmUp.gather()
    assert time.monotonic() - started < 0.9
    assert warm_up.certificates and warm_up.sample == b"" and warm_up.trust == b""


def test_altered_archived_bytes_are_not_a_warm_up_sample(issued, settings):
    """Only bytes that match the registered SHA-256 are checked by the fork server."""
    path = Path(settings.STORAGES["archive"]["OPTIONS"]["location"]) / issued.document.key
    path.chmod(0o600)
    path.write_bytes(path.read_bytes().replace(b"%%EOF", b"%%EOX", 1))
    warm_up = worker.WarmUp.gather()
    assert warm_up.certificates and warm_up.sample == b""


def test_an_oversized_certificate_is_left_out_of_the_warm_up(pki, genuine_pdf, monkeypatch):
    """A credential's certificate over the frame limit (a CA with huge extensions, say) would put the
    fork server out of step and stop every check: it is left out, the others are sent."""
    from epolicy.signing.verify import trust

    real = trust.own_certificate_ders
    monkeypatch.setattr(
        trust,
        "own_certificate_ders",
        lambda limit=trust.OWN_CERTIFICATES: [b"\x30" * (worker.WARM_CERTIFICATE_BYTES + 1), *real(limit)],
    )
    warm_up = worker.WarmUp.gather()
    assert len(warm_up.certificates) == len(pki)
    _restart_fork_server()
    assert sandbox.run_bounded(genuine_pdf, at=clock.now())["report"]["code"] == "genuine"
    _restart_fork_server()


def test_a_fork_server_that_does_not_take_its_warm_up_is_replaced(pki, genuine_pdf, monkeypatch):
    """The web process does not wait without end on a new server stalled before reading its warm-up:
    the send times out, that server is stopped, a second is started, and the check goes on."""
    from epolicy.verification import forkserver

    sends = []
    real_send = worker.WarmUp.send

    def stalled_then_fine(self, sock):
        sends.append(sock.gettimeout())
        if len(sends) == 1:
            raise TimeoutError("timed out")  # what sendall raises past the socket's timeout
        return real_send(self, sock)

    monkeypatch.setattr(worker.WarmUp, "send", stalled_then_fine)
    _restart_fork_server()
    assert sandbox.run_bounded(genuine_pdf, at=clock.now())["report"]["code"] == "genuine"
    assert sends == [forkserver.WARM_UP_SEND_SECONDS] * 2
    _restart_fork_server()
