"""Bounded checks: each verification of an uploaded file runs in a worker process of its own, with a
deadline and a memory cap, so that no file can hang or exhaust the web process that received it.

Workers come from a fork server (forkserver.py) that has Django and pyHanko imported already. The
worker has no database: the verifier's trust anchors are computed here and sent with the file
(worker.py).

Outcomes (the "outcome" key of the payload):
- ok: the worker answered; "report" holds the verifier's report as JSON values (worker.plain)
- timeout: no answer within the deadline (the worker ends itself by its alarm)
- memory: the worker ran out of its address space
- error: the worker died or answered something unusable (the reason is logged, never shown)
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import socket
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from . import worker
from .forkserver import ForkServer

logger = logging.getLogger(__name__)

# Defaults; settings VERIFY_CHECK_TIMEOUT_SECONDS and VERIFY_CHECK_MEMORY_BYTES override them.
DEFAULT_TIMEOUT_SECONDS = 10.0
DEFAULT_MEMORY_BYTES = 1024 * 1024 * 1024  # address space of the worker process, libraries included
# How long past the deadline we wait for a worker that should already have ended itself.
GRACE_SECONDS = 2.0
# How long a check may wait for its worker to come up (the first one in a process starts the fork server).
STARTUP_SECONDS = 30.0

# One fork server per web process, like a database connection: process-local, started on first use.
_server = ForkServer()


@dataclass(frozen=True)
class Limits:
    timeout_seconds: float
    memory_bytes: int

    @classmethod
    def from_settings(cls) -> Limits:
        return cls(
            timeout_seconds=float(getattr(settings, "VERIFY_CHECK_TIMEOUT_SECONDS", DEFAULT_TIMEOUT_SECONDS)),
            memory_bytes=int(getattr(settings, "VERIFY_CHECK_MEMORY_BYTES", DEFAULT_MEMORY_BYTES)),
        )


def run_bounded(
    data: bytes, *, at: dt.datetime, limits: Limits | None = None, nice: int = 0
) -> dict[str, Any]:
    """Check `data` in a worker process under `limits`; returns a payload and never raises on the file.

    `nice` > 0 lowers the worker's CPU priority by that much: a large file's check then yields the CPU
    to the short check of a small file running beside it (slots.py), instead of sharing it evenly.
    Raises ApplicationError('pki_missing') when the platform has no root to trust (not the file's fault).
    """
    limits = limits or Limits.from_settings()
    trust = worker.current_trust()
    header = json.dumps(
        {
            "at": at.isoformat(),
            "timeout_seconds": limits.timeout_seconds,
            "memory_bytes": limits.memory_bytes,
            "nice": nice,
        }
    ).encode()
    ours, theirs = socket.socketpair()
    payload: dict[str, Any]
    started: float | None = None  # when the worker was there (the deadline counts from then)
    try:
        try:
            _server.hand_over(theirs)
        finally:
            theirs.close()
        # The first check of a process waits for the fork server to start; that is not the file's time.
        if not worker.recv_ready(ours, time.monotonic() + STARTUP_SECONDS):
            raise RuntimeError("no worker came up")
        started = time.monotonic()
        # The worker's alarm is armed after this, so it always ends the worker before this deadline.
        deadline = started + limits.timeout_seconds + GRACE_SECONDS
        ours.settimeout(limits.timeout_seconds + GRACE_SECONDS)
        worker.send_frame(ours, header)
        worker.send_frame(ours, trust)
        worker.send_frame(ours, bytes(data))
        payload = _parse(worker.recv_frame(ours, worker.MAX_PAYLOAD_BYTES, deadline))
    except (TimeoutError, EOFError, OSError, ValueError, RuntimeError) as exc:
        if started is None:
            payload = {"outcome": "error", "error": f"no worker ({exc!r})"}
        elif isinstance(exc, TimeoutError) or time.monotonic() - started >= limits.timeout_seconds:
            # Past the deadline a worker without an answer was ended by its alarm.
            payload = {"outcome": "timeout"}
        else:
            payload = {"outcome": "error", "error": f"worker ended without an answer ({exc!r})"}
    finally:
        ours.close()
    elapsed_ms = (time.monotonic() - (started or time.monotonic())) * 1000
    if payload["outcome"] == "error":
        logger.error("verification: worker failed after %.0f ms: %s", elapsed_ms, payload.get("error"))
    elif payload["outcome"] != "ok":
        logger.warning("verification: check stopped (%s) after %.0f ms", payload["outcome"], elapsed_ms)
    return payload


def worker_baseline_bytes() -> int | None:
    """Address space a worker starts with (the fork server's), None before the first check or off Linux.

    The memory limit applies to the whole worker, libraries included: the headroom for a check is the
    limit minus this.
    """
    return _server.address_space_bytes()


def run_inline(data: bytes, *, at: dt.datetime) -> dict[str, Any]:
    """The same check in this process, without bounds: for tests and tools that verify trusted files."""
    return worker.check_inline(data, at)


def _parse(raw: bytes) -> dict[str, Any]:
    try:
        payload = json.loads(raw)
    except ValueError:
        return {"outcome": "error", "error": "worker answer is not JSON"}
    if not isinstance(payload, dict) or payload.get("outcome") not in ("ok", "memory", "error"):
        return {"outcome": "error", "error": "worker answer has no known outcome"}
    if payload["outcome"] == "ok" and not isinstance(payload.get("report"), dict):
        return {"outcome": "error", "error": "worker answer has no report"}
    return payload
