"""`epolicy signing_server` as a real separate process with its own (file) database and PKI.

The test process has no PKI and no database access here: a signature can only come from the child.
The result is checked against the child's PKI twice: by `verify_pdf` run in the child's environment,
and independently in this process with pyHanko against the root certificate read from the child's
SQLite file.
"""

from __future__ import annotations

import io
import json
import os
import queue
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from asn1crypto import x509 as asn1_x509
from django.core.management import CommandError, call_command
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext

from epolicy.common.errors import ApplicationError
from epolicy.signing.remote import client as remote

from .test_endpoints import APPLICANT_BOX, BOX, make_pdf, make_png

EPOLICY = str(Path(sys.executable).parent / "epolicy")
TOKEN = "process-test-secret-0123456789abcdef0123456789"


def _run(args: list[str], env: dict[str, str], timeout: int = 180) -> subprocess.CompletedProcess:
    result = subprocess.run([EPOLICY, *args], env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"epolicy {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result


class Service:
    def __init__(self, url: str, env: dict[str, str], db: Path, proc: subprocess.Popen, log: Path):
        self.url, self.env, self.db, self.proc, self.log = url, env, db, proc, log


def service_env(home: Path, **extra: str) -> dict[str, str]:
    """The environment of a signing service with its own SQLite database (migrated and given a PKI)."""
    db = home / "signing.sqlite3"
    env = {
        **os.environ,
        "EPOLICY_DATABASE_URL": f"sqlite:///{db}",
        "EPOLICY_VAR_DIR": str(home / "var"),
        "EPOLICY_SIGNING_SERVICE_TOKEN": TOKEN,
        "EPOLICY_ENV": "development",
        "PYTHONUNBUFFERED": "1",
        **extra,
    }
    env.pop("EPOLICY_SIGNING_SERVICE_URL", None)
    env.pop("EPOLICY_TEST_SQLITE", None)
    if not db.exists():
        _run(["migrate", "--noinput"], env)
        _run(["pki_init"], env)
    return env


def start_signing_server(
    env: dict[str, str], log: Path, extra: tuple[str, ...] = ()
) -> tuple[str, subprocess.Popen]:
    """`epolicy signing_server` on a free port; returns its base URL once it listens."""
    with log.open("w") as stderr:
        proc = subprocess.Popen(
            [EPOLICY, "signing_server", "--host", "127.0.0.1", "--port", "0", *extra],
            env=env,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
    lines: queue.Queue[str | None] = queue.Queue()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=read, daemon=True).start()
    deadline = time.monotonic() + 120
    while True:
        try:
            line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
        except queue.Empty:
            line = None
        if line is None:
            proc.kill()
            pytest.fail(f"signing_server did not start:\n{log.read_text()}")
        if "listening on" in line:
            return line.split("listening on", 1)[1].strip().removesuffix("/internal/signing/v1/"), proc


def stop_signing_server(proc: subprocess.Popen, log: Path) -> None:
    proc.terminate()
    try:
        returncode = proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        pytest.fail("signing_server did not stop on SIGTERM")
    assert returncode == 0, log.read_text()


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    home = tmp_path_factory.mktemp("signing-service")
    env = service_env(home)
    log = home / "server.stderr"
    url, proc = start_signing_server(env, log)
    try:
        yield Service(url, env, home / "signing.sqlite3", proc, log)
    finally:
        stop_signing_server(proc, log)


@pytest.fixture
def use_service(service, settings):
    settings.SIGNING_SERVICE_URL = service.url
    settings.SIGNING_SERVICE_TOKEN = TOKEN
    return service


def _child_db(service: Service, sql: str) -> list[tuple]:
    with sqlite3.connect(service.db) as conn:
        return conn.execute(sql).fetchall()


def _verify_in_child(service: Service, pdf: Path) -> dict:
    code = (
        "import json, pathlib\n"
        "from epolicy.signing.verify import verify_pdf\n"
        f"r = verify_pdf(pathlib.Path({str(pdf)!r}).read_bytes())\n"
        "print(json.dumps({'genuine': r.genuine, 'code': r.code, 'number': r.document_number,"
        " 'roles': [s.signer_role for s in r.signatures]}))\n"
    )
    out = _run(["shell", "-c", code], service.env).stdout
    return json.loads(out.strip().splitlines()[-1])


def _verify_here(service: Service, pdf: bytes) -> None:
    """pyHanko in this process, trusting only the root certificate in the child's database."""
    ((root_der,),) = _child_db(
        service, "SELECT certificate FROM signing_signingcredential WHERE role='root_ca'"
    )
    root = asn1_x509.Certificate.load(bytes(root_der))
    (sig,) = PdfFileReader(io.BytesIO(pdf)).embedded_signatures
    status = validate_pdf_signature(
        sig,
        signer_validation_context=ValidationContext(trust_roots=[root], allow_fetching=False),
        ts_validation_context=ValidationContext(trust_roots=[root], allow_fetching=False),
    )
    assert status.intact and status.valid and status.trusted, status.pretty_print_details()
    assert status.bottom_line
    assert status.coverage == SignatureCoverageLevel.ENTIRE_FILE
    assert status.timestamp_validity is not None and status.timestamp_validity.trusted


def test_health_of_the_separate_process(use_service):
    data = remote.health()
    assert data["status"] == "ok" and data["service"] == "epolicy-signing"
    ((fingerprint,),) = _child_db(
        use_service, "SELECT fingerprint_sha256 FROM signing_signingcredential WHERE role='seal' AND active=1"
    )
    assert data["seal"]["certificate_fingerprint"] == fingerprint


def test_seal_through_the_separate_process_verifies_against_its_pki(use_service, tmp_path):
    result = remote.seal_document(make_pdf(), box=BOX)
    ((fingerprint,),) = _child_db(
        use_service, "SELECT fingerprint_sha256 FROM signing_signingcredential WHERE role='seal' AND active=1"
    )
    assert result.certificate_fingerprint == fingerprint
    _verify_here(use_service, result.pdf)
    path = tmp_path / "sealed.pdf"
    path.write_bytes(result.pdf)
    assert _verify_in_child(use_service, path) == {
        "genuine": True,
        "code": "genuine",
        "number": "PDZA1",
        "roles": ["insurer"],
    }


def test_application_signature_through_the_separate_process(use_service):
    result = remote.sign_application(
        make_pdf(kind="application", number="TDZA1"),
        box=APPLICANT_BOX,
        signer_name="王五",
        subject_serial="c3" * 16,
        signature_png=make_png(),
    )
    _verify_here(use_service, result.pdf)


def test_the_separate_process_refuses_another_secret(use_service, settings):
    settings.SIGNING_SERVICE_TOKEN = "some-other-secret-0123456789abcdef0123456789"
    with pytest.raises(ApplicationError) as exc:
        remote.seal_document(make_pdf(), box=BOX)
    assert exc.value.code == "pki_missing"
    assert exc.value.details == {"reason": "auth_unknown_key"}


def test_the_server_refuses_to_start_with_a_service_url(settings):
    settings.SIGNING_SERVICE_URL = "http://127.0.0.1:8765"
    with pytest.raises(CommandError, match="EPOLICY_SIGNING_SERVICE_URL"):
        call_command("signing_server", port=0)


def test_the_server_refuses_a_short_secret(settings):
    settings.SIGNING_SERVICE_URL = ""
    settings.SIGNING_SERVICE_TOKEN = "short"
    with pytest.raises(CommandError, match="at least 32"):
        call_command("signing_server", port=0)
