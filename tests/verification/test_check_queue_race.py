"""The checks' queue under real concurrency: threads with their own database connections, as separate
web processes would be, and a burst of real uploads of large slow files with one small genuine e-policy."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
from django.db import connections
from django.test import Client

from epolicy.common.errors import ApplicationError
from epolicy.verification import slots
from epolicy.verification.services import verify_document

from . import hostile
from .conftest import API, BIG, SMALL, worker_pids

pytestmark = pytest.mark.django_db(transaction=True)


def race(*calls: Callable[[], object]) -> list[object]:
    """Run the calls at the same moment, each in its own thread; their results or exceptions, in order."""
    barrier = threading.Barrier(len(calls))
    results: list[object] = [None] * len(calls)

    def run(i: int, call: Callable[[], object]) -> None:
        try:
            barrier.wait(timeout=10)
            results[i] = call()
        except Exception as exc:
            results[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return results


class Meter:
    """How many checks run at once, overall and of large files, at the most."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.running = {"all": 0, "big": 0}
        self.peak = {"all": 0, "big": 0}

    def check(self, *, client: str, size: int, seconds: float) -> int:
        with slots.check_slot(client=client, size=size) as lease:
            kinds = ["all"] if size <= SMALL else ["all", "big"]
            with self._lock:
                for k in kinds:
                    self.running[k] += 1
                    self.peak[k] = max(self.peak[k], self.running[k])
            time.sleep(seconds)
            with self._lock:
                for k in kinds:
                    self.running[k] -= 1
            return lease.number


def test_slots_are_never_exceeded(shared_db, queue):
    queue.VERIFY_QUEUE_WAIT_SECONDS = 30
    meter = Meter()
    sizes = [SMALL if i % 3 == 0 else BIG for i in range(15)]
    results = race(
        *(
            (lambda i=i, size=size: meter.check(client=f"10.0.1.{i}", size=size, seconds=0.15))
            for i, size in enumerate(sizes)
        )
    )
    assert not [r for r in results if isinstance(r, Exception)], results
    assert meter.peak["all"] <= 3 and meter.peak["big"] <= 2, meter.peak
    assert meter.peak["all"] >= 2  # the checks did overlap: the bound was tested, not idle
    assert 0 not in [n for n, size in zip(results, sizes, strict=True) if size == BIG]
    assert slots.slots_held() == []


def test_one_client_gets_one_slot_at_once_while_another_client_passes(shared_db, queue):
    queue.VERIFY_QUEUE_WAIT_SECONDS = 10
    meter = Meter()
    same = [lambda: meter.check(client="10.0.2.1", size=SMALL, seconds=0.5) for _ in range(4)]
    other = lambda: meter.check(client="10.0.2.2", size=SMALL, seconds=0.5)  # noqa: E731
    started = time.monotonic()
    results = race(*same, other)
    elapsed = time.monotonic() - started
    refused = [r for r in results[:4] if isinstance(r, ApplicationError)]
    assert len(refused) == 3, results
    assert {r.code for r in refused} == {"rate_limited"}
    assert isinstance(results[4], int)  # the other client's check ran
    assert meter.peak["all"] == 2
    assert elapsed < 5  # refused at once, not after waiting for a slot


def test_a_waiting_check_gets_the_slot_given_back(shared_db, queue):
    queue.VERIFY_QUEUE_WAIT_SECONDS = 10
    meter = Meter()
    holders = [lambda i=i: meter.check(client=f"10.0.3.{i}", size=BIG, seconds=0.6) for i in range(2)]

    def late() -> float:
        deadline = time.monotonic() + 10
        while len(slots.slots_held()) < 2:  # until the two holders have their slots
            assert time.monotonic() < deadline
            time.sleep(0.01)
        started = time.monotonic()
        meter.check(client="10.0.3.9", size=BIG, seconds=0)
        return time.monotonic() - started

    *_, waited = race(*holders, late)
    assert isinstance(waited, float), waited
    assert 0.1 < waited < 3  # it waited for a holder (0.6 s each), and not for the whole wait


def test_small_genuine_policy_verifies_promptly_during_a_burst_of_big_files(
    shared_db, queue, settings, issued, genuine_pdf
):
    """The security review's burst: eight 8.5 MB files that each run to the time limit, sent at once
    from eight addresses, then a genuine e-policy from a ninth."""
    settings.VERIFY_CHECK_TIMEOUT_SECONDS = 2  # the big files run into it (they need ~5 s here)
    settings.VERIFY_QUEUE_WAIT_SECONDS = 20
    big = hostile.many_revisions(56_000)
    assert 8_000_000 < len(big) < settings.VERIFY_MAX_UPLOAD_BYTES
    assert len(genuine_pdf) < settings.VERIFY_SMALL_FILE_BYTES
    verify_document(b"%PDF-1.7\n")  # the fork server up: its start is not what this test measures

    done = threading.Event()
    peak_workers = 0

    def sample() -> None:
        nonlocal peak_workers
        while not done.is_set():
            peak_workers = max(peak_workers, len(worker_pids()))
            time.sleep(0.01)

    def post(data: bytes, address: str) -> tuple[int, dict, float]:
        from django.core.files.uploadedfile import SimpleUploadedFile

        started = time.monotonic()
        try:
            resp = Client().post(
                f"{API}/verify",
                {"file": SimpleUploadedFile("p.pdf", data, content_type="application/pdf")},
                REMOTE_ADDR=address,
            )
            return resp.status_code, resp.json(), time.monotonic() - started
        finally:
            connections.close_all()

    sampler = threading.Thread(target=sample)
    sampler.start()
    burst: list[tuple[int, dict, float] | Exception | None] = [None] * 8

    def send_big(i: int) -> None:
        try:
            burst[i] = post(big, f"10.0.4.{i}")
        except Exception as exc:
            burst[i] = exc

    threads = [threading.Thread(target=send_big, args=(i,)) for i in range(8)]
    burst_started = time.monotonic()
    for t in threads:
        t.start()
    try:
        # Send the small file once large files hold every general slot.
        deadline = time.monotonic() + 30
        while len([s for s in slots.slots_held() if s.number >= 1]) < 2:
            assert time.monotonic() < deadline, "the big files never took the slots"
            time.sleep(0.02)
        small_sent = time.monotonic() - burst_started
        status, report, small_seconds = post(genuine_pdf, "10.0.4.100")
    finally:
        for t in threads:
            t.join(timeout=120)
        done.set()
        sampler.join()
    total = time.monotonic() - burst_started
    answers = [(r[0], r[1].get("code")) if isinstance(r, tuple) else r for r in burst]
    print(  # the measured figures, for docs/verification.md (pytest -s)
        f"\nburst: small file sent at {small_sent:.2f} s, answered in {small_seconds:.2f} s; "
        f"big files {sorted(round(r[2], 1) for r in burst if isinstance(r, tuple))} s; "
        f"all done in {total:.1f} s; at most {peak_workers} workers at once; {answers}"
    )
    assert status == 200 and report["genuine"] is True and report["code"] == "genuine", report
    assert small_seconds < 5  # a correctness bound (about 0.3 s here), not a benchmark
    assert peak_workers <= 3
    assert all(a in [(200, "check_timeout"), (503, "verify_busy")] for a in answers), answers
    assert slots.slots_held() == []
