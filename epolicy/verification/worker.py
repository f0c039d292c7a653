"""The verification worker: one check of an untrusted PDF, in a process of its own.

forkserver.py forks a worker per check and hands it a socket; sandbox.py, in the web process, sends the
request over it and waits with a deadline. The worker first arms an alarm and caps its own address space
and CPU time, then runs the signature check and writes back one JSON document. When the alarm fires the
kernel ends the worker, even inside C code: nobody has to kill it by pid.

What crosses the socket: from the web process, a JSON header, the verifier's trust anchors as a pickle
(the web process is trusted; the worker never sends a pickle back) and the file; from the worker, JSON
only, so that a file which subverts the parser still cannot make the web process run code.

The worker has no database. The web process computes the verifier's trust (roots, seal fingerprints,
CAs, fresh CRLs — `epolicy.signing.verify.load_trust`, which may also reissue a stale CRL with a CA key)
and sends it; the worker passes it to `verify_pdf`. That keeps the process that touches
hostile bytes away from keys and credentials, and makes the check behave the same against a test
database the worker could not see. Any other attempt to use the database from the worker is refused
and becomes `check_failed` with an error in the log, so a new look-up added to the verifier cannot
silently turn into a wrong verdict.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import enum
import io
import json
import logging
import math
import os
import pickle
import resource
import signal
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

logger = logging.getLogger(__name__)

# Upper bounds on what crosses the socket; anything larger is refused.
MAX_HEADER_BYTES = 64 * 1024
MAX_TRUST_BYTES = 16 * 1024 * 1024
MAX_DATA_BYTES = 64 * 1024 * 1024
MAX_PAYLOAD_BYTES = 4 * 1024 * 1024
# Until the request has arrived, a worker lives at most this long.
REQUEST_WAIT_SECONDS = 30
# A worker's first byte: it is up (the deadline of the check counts from here).
READY = b"R"


# ---------------------------------------------------------------------------------------------------------
# Framing (both sides)


def send_frame(sock: socket.socket, data: bytes) -> None:
    sock.sendall(struct.pack("!I", len(data)))
    sock.sendall(data)


def recv_frame(sock: socket.socket, limit: int, deadline: float | None = None) -> bytes:
    """One length-prefixed frame; EOFError when the peer is gone, ValueError when it is over `limit`."""
    (size,) = struct.unpack("!I", _recv_exactly(sock, 4, deadline))
    if size > limit:
        raise ValueError(f"frame of {size} bytes is over the limit of {limit}")
    return _recv_exactly(sock, size, deadline)


def recv_ready(sock: socket.socket, deadline: float) -> bool:
    """Wait for a new worker's first byte: it has been forked and is about to read the request."""
    return _recv_exactly(sock, 1, deadline) == READY


def _recv_exactly(sock: socket.socket, size: int, deadline: float | None) -> bytes:
    buf = bytearray()
    while len(buf) < size:
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            sock.settimeout(remaining)
        chunk = sock.recv(min(size - len(buf), 1024 * 1024))
        if not chunk:
            raise EOFError
        buf += chunk
    return bytes(buf)


# ---------------------------------------------------------------------------------------------------------
# The trust anchors (computed in the web process, used in the worker)


class _TrustPickler(pickle.Pickler):
    """Pickles the verifier's trust, with certificates and CRLs as DER.

    cryptography's objects cannot be pickled, and asn1crypto's unpickle into broken objects in a
    process that has not parsed that type yet (their classes set themselves up lazily): both are
    rebuilt from DER on the other side.
    """

    def reducer_override(self, obj: Any) -> Any:
        from asn1crypto.core import Asn1Value
        from cryptography import x509
        from cryptography.hazmat.primitives.serialization import Encoding

        if isinstance(obj, Asn1Value):
            return _load_asn1, (type(obj).__module__, type(obj).__qualname__, obj.dump())
        if isinstance(obj, x509.Certificate):
            return _load_certificate, (obj.public_bytes(Encoding.DER),)
        if isinstance(obj, x509.CertificateRevocationList):
            return _load_crl, (obj.public_bytes(Encoding.DER),)
        return NotImplemented


def _load_asn1(module: str, qualname: str, der: bytes) -> Any:
    import importlib

    from epolicy.signing import asn1certs

    cls: Any = importlib.import_module(module)
    for part in qualname.split("."):
        cls = getattr(cls, part)
    # The trust a worker is sent is the platform's own: admitted (a root or CRL the fork server parsed
    # already, WarmUp, comes back as that object).
    return asn1certs.admit(cls.load(der))


def _load_certificate(der: bytes) -> Any:
    from cryptography import x509

    return x509.load_der_x509_certificate(der)


def _load_crl(der: bytes) -> Any:
    from cryptography import x509

    return x509.load_der_x509_crl(der)


# The last trust pickled, and its pickle: `load_trust` returns the same object while trust is unchanged.
_pickled: tuple[object, bytes] | None = None


def current_trust() -> bytes:
    """The verifier's trust as of now, serialised for a worker (raises ApplicationError pki_missing)."""
    global _pickled
    from epolicy.signing import verify

    trust = verify.load_trust()  # the verifier's own look-up, so that both sides agree on what is trusted
    last = _pickled
    if last is not None and last[0] is trust:
        return last[1]
    buf = io.BytesIO()
    _TrustPickler(buf, protocol=pickle.HIGHEST_PROTOCOL).dump(trust)
    _pickled = (trust, buf.getvalue())
    return _pickled[1]


# A new fork server's warm-up (sent by the web process before the first request, read by the server
# before its first fork): how many of the platform's own certificates, and how large a sample e-policy.
WARM_CERTIFICATES = 64
WARM_CERTIFICATE_BYTES = 64 * 1024
WARM_SAMPLE_BYTES = 4 * 1024 * 1024
WARM_WAIT_SECONDS = 30
# The sample e-policy is read from the archive within this time, or left out: the first check of a web
# process waits for the warm-up, and an archive in a slow bucket must not make it wait long.
WARM_SAMPLE_READ_SECONDS = 2.0


def _read_sample(key: str, sha256: str) -> bytes:
    """The archived bytes under `key` when they match `sha256` and arrive within WARM_SAMPLE_READ_SECONDS;
    else nothing. Read in a thread of its own so that a slow archive is waited for only that long."""
    from epolicy.archive.storage import archive_storage
    from epolicy.common.crypto import sha256_hex

    found: list[bytes] = []

    def read() -> None:
        try:
            with archive_storage().open(key, "rb") as fh:
                data = fh.read(WARM_SAMPLE_BYTES + 1)
        except Exception:
            logger.warning("verification: could not read the warm-up sample %s", key, exc_info=True)
            return
        if len(data) <= WARM_SAMPLE_BYTES and sha256_hex(data) == sha256:
            found.append(data)

    reader = threading.Thread(target=read, name="verification-warm-up", daemon=True)
    reader.start()
    reader.join(WARM_SAMPLE_READ_SECONDS)
    return found[0] if found else b""


@dataclasses.dataclass(frozen=True)
class WarmUp:
    """What a new fork server prepares before its first fork, so that each worker forked from it finds
    it done: the platform's own certificates parsed (asn1certs), and one check of a recent e-policy of
    ours run, which sets up every parser, name table and code path a check of an e-policy takes. A
    worker forked from a cold server spent ~20 ms of a ~26 ms check doing that again (measured;
    docs/performance.md)."""

    certificates: list[bytes]
    trust: bytes = b""  # pickled as for a worker; empty: no sample check
    sample: bytes = b""

    @classmethod
    def gather(cls) -> WarmUp:
        """In the web process: the newest own certificates and the newest archived e-policy (its bytes
        checked against the registered SHA-256, read within WARM_SAMPLE_READ_SECONDS), with the trust to
        check it. Whatever cannot be read is left out (a fresh install has no e-policy)."""
        from django.db import transaction

        from epolicy.archive.models import ArchivedObject
        from epolicy.signing.verify.trust import own_certificate_ders

        certificates: list[bytes] = []
        trust = sample = b""
        latest = None
        try:
            with transaction.atomic():  # a failure leaves the caller's transaction usable
                # One over the frame limit would put the server out of step: left out (and not ours).
                own = own_certificate_ders(WARM_CERTIFICATES)
                certificates = [der for der in own if len(der) <= WARM_CERTIFICATE_BYTES]
                latest = (
                    ArchivedObject.objects.filter(
                        kind=ArchivedObject.Kind.POLICY, deleted_at__isnull=True, size__lte=WARM_SAMPLE_BYTES
                    )
                    .order_by("-id")
                    .first()
                )
                if latest is not None:
                    trust = current_trust()
        except Exception:
            logger.warning("verification: could not gather the fork server's warm-up", exc_info=True)
        if trust and latest is not None:
            sample = _read_sample(latest.key, latest.sha256)
        return cls(certificates=certificates, trust=trust if sample else b"", sample=sample)

    def send(self, sock: socket.socket) -> None:
        for der in self.certificates:
            send_frame(sock, der)
        send_frame(sock, b"")
        send_frame(sock, self.trust)
        send_frame(sock, self.sample)

    @classmethod
    def receive(cls, sock: socket.socket) -> WarmUp:
        """In the fork server; raises EOFError, OSError or ValueError when the socket is out of step."""
        deadline = time.monotonic() + WARM_WAIT_SECONDS
        certificates: list[bytes] = []
        try:
            while der := recv_frame(sock, WARM_CERTIFICATE_BYTES, deadline):
                if len(certificates) < WARM_CERTIFICATES:
                    certificates.append(der)
            trust = recv_frame(sock, MAX_TRUST_BYTES, deadline)
            sample = recv_frame(sock, WARM_SAMPLE_BYTES, deadline)
        finally:
            sock.settimeout(None)  # requests are then waited for without end
        return cls(certificates=certificates, trust=trust, sample=sample)

    def apply(self) -> tuple[int, str | None]:
        """In the fork server: parse the certificates, then check the sample (its verdict is not used).
        Returns how many certificates were parsed and the sample's outcome (None: no sample)."""
        from asn1crypto import x509 as asn1_x509

        from epolicy.signing import asn1certs

        parsed = 0
        for der in self.certificates:
            try:
                cert = asn1_x509.Certificate.load(der)
            except ValueError:
                continue
            parsed += asn1certs.admit(cert) is cert
        if not (self.trust and self.sample):
            return parsed, None
        try:
            trust = pickle.loads(self.trust)  # noqa: S301 — from the web process, like a worker's
            from epolicy.common import clock

            outcome = check_isolated(self.sample, trust, clock.now())
        except Exception as exc:
            logger.warning("verification: the fork server's warm-up check failed: %s", exc)
            return parsed, "error"
        report = outcome.get("report")
        return parsed, report["code"] if isinstance(report, dict) else str(outcome.get("outcome"))


# ---------------------------------------------------------------------------------------------------------
# The worker


def serve(sock: socket.socket) -> None:
    """Worker side of one check (in a freshly forked worker): request in, report out."""
    from epolicy.signing import asn1certs

    signal.signal(signal.SIGALRM, signal.SIG_DFL)  # the alarm ends the process, even inside C code
    signal.alarm(REQUEST_WAIT_SECONDS)
    sock.sendall(READY)
    header = json.loads(recv_frame(sock, MAX_HEADER_BYTES))
    timeout = float(header["timeout_seconds"])
    signal.setitimer(signal.ITIMER_REAL, max(timeout, 0.001))
    apply_limits(int(header["memory_bytes"]), math.ceil(timeout) + 1)
    if (nice := int(header.get("nice", 0))) > 0:
        os.nice(nice)  # a large file yields the CPU to small ones (sandbox.run_bounded)
    started = time.perf_counter()
    kept = asn1certs.kept()  # parsed by the fork server before this worker was forked
    payload: dict[str, Any]
    try:
        trust = pickle.loads(recv_frame(sock, MAX_TRUST_BYTES))  # noqa: S301 — from the web process
        data = recv_frame(sock, MAX_DATA_BYTES)
        payload = check_isolated(data, trust, dt.datetime.fromisoformat(header["at"]))
    except MemoryError:
        payload = {"outcome": "memory"}
    except (EOFError, ConnectionError, TimeoutError):
        raise  # the web process has given up on this check: nobody to answer
    except Exception as exc:  # the web process must always get an answer it can act on
        payload = {"outcome": "error", "error": f"{type(exc).__name__}: {exc}"[:500]}
    payload["check_ms"] = round((time.perf_counter() - started) * 1000, 1)
    payload["certificates_parsed_before"] = kept
    try:
        raw = json.dumps(payload, ensure_ascii=False).encode()
    except MemoryError:
        raw = b'{"outcome": "memory"}'
    if len(raw) > MAX_PAYLOAD_BYTES:
        raw = b'{"outcome": "error", "error": "report too large"}'
    send_frame(sock, raw)


def ensure_django() -> None:
    """Set Django up once in a fresh interpreter (the fork server); a no-op where it is already set up."""
    from django.apps import apps

    if not apps.ready:
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
        import django

        django.setup()


def apply_limits(memory_bytes: int, cpu_seconds: int) -> None:
    """Cap this process: no core files, CPU seconds, and address space (RLIMIT_AS, libraries included)."""
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # no core file of a process that held a document
    if cpu_seconds > 0:
        # A backstop behind the alarm: CPU time never runs ahead of wall-clock time.
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1))
    if memory_bytes > 0:
        _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        cap = memory_bytes if hard == resource.RLIM_INFINITY else min(memory_bytes, hard)
        resource.setrlimit(resource.RLIMIT_AS, (cap, hard))


def check_isolated(data: bytes, trust: object, at: dt.datetime) -> dict[str, Any]:
    """verify_pdf with the given trust and time and no database, noticing when memory ran out."""
    ensure_django()
    from epolicy.common import clock
    from epolicy.signing import verify

    if not isinstance(trust, verify.Trust):
        raise TypeError(f"the web process sent {type(trust).__name__}, not the verifier's trust")
    watch = _MemoryWatch()
    with (
        _no_database() as db_attempts,
        watch.on(verify.logger),
        clock.frozen_clock(at),
    ):
        report = verify.verify_pdf(data, at=at, trust=trust)
    if watch.out_of_memory:
        # verify_pdf turns every exception into "malformed", MemoryError included: out of memory is ours.
        return {"outcome": "memory"}
    if watch.interpreter_error:
        # SystemError: C code failed without saying why (seen when an allocation fails at the limit).
        return {"outcome": "error", "error": f"interpreter error during the check: {watch.interpreter_error}"}
    if db_attempts:
        logger.error(
            "verification worker: the verifier tried to use the database (%s); whatever it needs must come "
            "from the web process (see epolicy.verification.worker)",
            db_attempts[0],
        )
        return {"outcome": "error", "error": "database access from the worker"}
    return {"outcome": "ok", "report": plain(report)}


def check_inline(data: bytes, at: dt.datetime) -> dict[str, Any]:
    """The same check in the calling process, reading trust from its database (no time or memory bound)."""
    from epolicy.common import clock
    from epolicy.signing.verify import verify_pdf

    with clock.frozen_clock(at):
        report = verify_pdf(data, at=at)
    return {"outcome": "ok", "report": plain(report)}


@contextlib.contextmanager
def _no_database() -> Iterator[list[str]]:
    """Refuse any use of the database: opening a connection, or a query on one already open."""
    from django.db import connections

    attempts: list[str] = []
    wrappers = list(connections.all(initialized_only=False))

    def refuse_connect(alias: str) -> Callable[[], None]:
        def refuse() -> None:
            attempts.append(alias)
            raise RuntimeError("the verification worker has no database access")

        return refuse

    def refuse_query(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        attempts.append(sql[:200])
        raise RuntimeError("the verification worker has no database access")

    with contextlib.ExitStack() as stack:
        for conn in wrappers:
            conn.connect = refuse_connect(conn.alias)  # type: ignore[method-assign]
            stack.callback(delattr, conn, "connect")
            stack.enter_context(conn.execute_wrapper(refuse_query))
        yield attempts


class _MemoryWatch(logging.Filter):
    """Notices a MemoryError (or SystemError) that the verifier caught and logged, without changing what
    gets logged: those say the checker failed, not that the file is bad."""

    def __init__(self) -> None:
        super().__init__()
        self.out_of_memory = False
        self.interpreter_error = ""
        self._emit_from = logging.NOTSET

    @contextlib.contextmanager
    def on(self, target: logging.Logger) -> Iterator[None]:
        level = target.level
        self._emit_from = target.getEffectiveLevel()
        target.setLevel(logging.DEBUG)  # so that records below the configured level reach the filter
        target.addFilter(self)
        try:
            yield
        finally:
            target.removeFilter(self)
            target.setLevel(level)

    def filter(self, record: logging.LogRecord) -> bool:
        values: list[object] = list(record.args) if isinstance(record.args, tuple) else []
        if record.exc_info and record.exc_info[1] is not None:
            values.append(record.exc_info[1])
        for value in values:
            if isinstance(value, MemoryError):
                self.out_of_memory = True
            elif isinstance(value, SystemError):
                self.interpreter_error = repr(value)[:200]
        return record.levelno >= self._emit_from


def plain(value: Any) -> Any:
    """A dataclass report as JSON values: times as Shanghai local time, enums by name, bytes as hex.

    Generic on purpose: fields the signing verifier adds (per-signature checks, document timestamps,
    LTA details) cross the process boundary without this module having to know them.
    """
    from epolicy.common import clock

    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dt.datetime):
        return clock.fmt_local(value) if value.tzinfo is not None else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.name
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)[:1024].hex()
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value, key=repr) if isinstance(value, set | frozenset) else value
        return [plain(v) for v in items]
    return str(value)
