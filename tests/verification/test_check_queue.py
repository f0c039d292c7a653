"""The queue in front of bounded checks: global slots, a reserved slot for small files, a per-client limit,
leases that run out, and the busy answer (one process; the races are in test_check_queue_race.py)."""

import contextlib
import datetime as dt
import os
import threading
import time

import pytest

from epolicy.common import clock
from epolicy.common.errors import ApplicationError
from epolicy.verification import sandbox, slots, worker
from epolicy.verification.models import CheckSlot

from . import hostile
from .conftest import API, BIG, SMALL, upload, worker_pids

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 12, 1, 10, 0, tzinfo=dt.UTC)
SETTINGS = (
    "VERIFY_CHECK_SLOTS",
    "VERIFY_SMALL_CHECK_SLOTS",
    "VERIFY_SMALL_FILE_BYTES",
    "VERIFY_CHECKS_PER_CLIENT",
    "VERIFY_QUEUE_WAIT_SECONDS",
    "VERIFY_CHECK_LEASE_SECONDS",
)


def take(client: str, size: int, at: dt.datetime = T0) -> slots.Lease:
    with clock.frozen_clock(at):
        return slots.slot_take(client=client, size=size)


def refusal(client: str, size: int, at: dt.datetime = T0) -> ApplicationError:
    with pytest.raises(ApplicationError) as exc:
        take(client, size, at)
    return exc.value


def held_numbers(at: dt.datetime = T0) -> list[int]:
    return [s.number for s in slots.slots_held(at)]


def test_defaults(settings):
    for name in SETTINGS:
        if hasattr(settings, name):
            delattr(settings, name)
    config = slots.QueueSettings.from_settings()
    assert config.slots == max(2, len(os.sched_getaffinity(0)))
    assert (config.small_slots, config.small_file_bytes, config.per_client) == (1, 1024 * 1024, 1)
    assert (config.wait_seconds, config.lease_seconds, config.retry_after_seconds) == (15, 60, 10)


def test_lease_outlasts_the_longest_check(settings):
    settings.VERIFY_CHECK_LEASE_SECONDS = 5
    settings.VERIFY_CHECK_TIMEOUT_SECONDS = 20
    # worker start-up 30 s + time limit 20 s + grace 2 s + 5 s of margin
    assert slots.QueueSettings.from_settings().lease_seconds == 57


def test_big_files_take_the_general_slots_then_are_refused_as_busy(queue):
    assert {take("10.0.0.1", BIG).number, take("10.0.0.2", BIG).number} == {1, 2}
    busy = refusal("10.0.0.3", BIG)
    assert (busy.code, busy.status) == ("verify_busy", 503)
    assert busy.details == {"retry_after_seconds": 10}  # a slot frees within one check's time limit
    assert "繁忙" in busy.message_zh
    # The reserved slot is still there for a small file, and only once.
    assert take("10.0.0.4", SMALL).number == 0
    assert refusal("10.0.0.5", SMALL).code == "verify_busy"
    assert held_numbers() == [0, 1, 2]


def test_small_files_take_the_reserved_slot_first_then_any(queue):
    assert take("10.0.0.1", SMALL).number == 0
    assert take("10.0.0.2", SMALL).number == 1
    assert take("10.0.0.3", BIG).number == 2
    assert refusal("10.0.0.4", BIG).code == "verify_busy"


def test_the_size_threshold_is_inclusive(queue):
    take("10.0.0.1", BIG)
    take("10.0.0.2", BIG)
    assert take("10.0.0.3", 1024 * 1024).number == 0
    assert refusal("10.0.0.4", 1024 * 1024 + 1).code == "verify_busy"


def test_a_released_slot_is_taken_again(queue):
    a = take("10.0.0.1", BIG)
    take("10.0.0.2", BIG)
    slots.slot_release(a)
    slots.slot_release(a)  # twice is harmless
    assert take("10.0.0.3", BIG).number == a.number
    assert refusal("10.0.0.4", BIG).code == "verify_busy"


def test_an_expired_lease_is_taken_over_and_its_late_release_frees_nothing(queue):
    a = take("10.0.0.1", BIG)
    take("10.0.0.2", BIG)
    assert a.number == 1
    lease = dt.timedelta(seconds=slots.QueueSettings.from_settings().lease_seconds)
    # Until the lease runs out the slot is held, whatever became of its process...
    assert refusal("10.0.0.3", BIG, T0 + lease - dt.timedelta(seconds=1)).code == "verify_busy"
    # ...then the next check takes it over.
    later = T0 + lease + dt.timedelta(seconds=1)
    c = take("10.0.0.3", BIG, later)
    assert c.number == a.number
    # The first holder comes back after all: giving back its slot must not free the new holder's.
    slots.slot_release(a)
    row = CheckSlot.objects.get(number=c.number)
    assert (row.holder, row.client, row.expires_at) == (c.holder, "10.0.0.3", later + lease)


def test_a_slot_taken_since_it_was_read_is_not_taken_twice(queue, monkeypatch):
    """The compare-and-set: another process takes a slot between this one's read and its update."""
    take("10.0.0.1", SMALL)  # the rows exist, the reserved slot is held
    before = slots._slots()  # slot 1 looks free here...
    other = take("10.0.0.2", BIG)  # ...and is taken now
    assert other.number == 1
    monkeypatch.setattr(slots, "_slots", lambda: before)
    mine = take("10.0.0.3", BIG)
    assert mine.number == 2
    assert CheckSlot.objects.get(number=1).holder == other.holder
    assert refusal("10.0.0.4", BIG).code == "verify_busy"


def test_one_check_per_client_at_a_time_and_others_pass(queue):
    queue.VERIFY_QUEUE_WAIT_SECONDS = 10
    take("10.0.0.1", SMALL)
    started = time.monotonic()
    second = refusal("10.0.0.1", SMALL)
    assert time.monotonic() - started < 1  # refused at once, not after the wait: the client is the queue
    assert (second.code, second.status) == ("rate_limited", 429)
    assert second.details == {"max_concurrent_checks": 1, "retry_after_seconds": 10}
    assert "正在验真" in second.message_zh
    assert refusal("10.0.0.1", BIG).code == "rate_limited"
    assert take("10.0.0.2", SMALL).number == 1


def test_per_client_limit_of_two(queue):
    queue.VERIFY_CHECKS_PER_CLIENT = 2
    take("10.0.0.1", SMALL)
    take("10.0.0.1", BIG)
    assert refusal("10.0.0.1", SMALL).code == "rate_limited"


def test_a_clients_lapsed_lease_does_not_count(queue):
    take("10.0.0.1", BIG)
    later = T0 + dt.timedelta(seconds=61)
    again = take("10.0.0.1", BIG, later)
    assert held_numbers(later) == [again.number]
    assert CheckSlot.objects.filter(client="10.0.0.1").count() == 1


def test_waits_then_refuses(queue):
    queue.VERIFY_QUEUE_WAIT_SECONDS = 0.3
    take("10.0.0.1", BIG)
    take("10.0.0.2", BIG)
    started = time.monotonic()
    assert refusal("10.0.0.3", BIG).code == "verify_busy"
    assert 0.3 <= time.monotonic() - started < 2


def test_fewer_slots_than_rows(queue):
    """Lowering VERIFY_CHECK_SLOTS: the rows above the new count are no longer handed out."""
    queue.VERIFY_CHECK_SLOTS = 4
    take("10.0.0.1", BIG)
    queue.VERIFY_CHECK_SLOTS = 1
    assert CheckSlot.objects.count() == 5
    assert take("10.0.0.2", SMALL).number == 0
    assert refusal("10.0.0.3", BIG).code == "verify_busy"


# ---------------------------------------------------------------------------------------------------------
# Through the API and the page


def hold_general_slots() -> None:
    """Both slots for any file held by other clients' (big) checks."""
    slots.slot_take(client="10.0.0.201", size=BIG)
    slots.slot_take(client="10.0.0.202", size=BIG)


def test_busy_answer_of_the_api(client, pki, queue):
    queue.VERIFY_QUEUE_WAIT_SECONDS = 0.2
    hold_general_slots()
    big = hostile.huge_string(2_000_000)
    started = time.monotonic()
    resp = upload(client, big)
    assert time.monotonic() - started >= 0.2
    assert resp.status_code == 503, resp.content[:300]
    body = resp.json()
    assert body["code"] == "verify_busy" and "繁忙" in body["message"]
    assert body["details"] == {"retry_after_seconds": 10}
    assert resp["Retry-After"] == "10"


def test_busy_answer_of_the_page(client, pki, queue):
    hold_general_slots()
    resp = upload(client, hostile.huge_string(2_000_000), path="/verify/")
    assert resp.status_code == 503
    html = resp.content.decode()
    assert 'data-code="verify_busy"' in html and "验真服务繁忙" in html


def test_small_genuine_policy_gets_the_reserved_slot_while_big_files_hold_the_others(
    client, issued, genuine_pdf, queue, monkeypatch
):
    assert len(genuine_pdf) < 1024 * 1024
    hold_general_slots()
    seen = []
    run_bounded = sandbox.run_bounded

    def watched(data, **kwargs):
        seen.append(held_numbers(clock.now()))
        return run_bounded(data, **kwargs)

    monkeypatch.setattr(sandbox, "run_bounded", watched)
    resp = upload(client, genuine_pdf)
    assert resp.status_code == 200 and resp.json()["genuine"] is True
    assert seen == [[0, 1, 2]]  # it ran in the reserved slot
    assert held_numbers(clock.now()) == [1, 2]  # and gave it back


def test_second_upload_of_a_client_is_refused_while_another_client_passes(client, issued, genuine_pdf, queue):
    slots.slot_take(client="127.0.0.1", size=SMALL)  # the test client's address, a check running
    resp = upload(client, genuine_pdf)
    assert resp.status_code == 429
    assert resp.json()["code"] == "rate_limited" and resp["Retry-After"] == "10"
    other = client.post(
        f"{API}/verify", {"file": _file(genuine_pdf)}, REMOTE_ADDR="10.0.0.9"
    )  # another address
    assert other.status_code == 200 and other.json()["genuine"] is True


def test_hourly_limit_also_says_when_to_retry(client, pki, settings):
    settings.VERIFY_MAX_PER_IP_PER_HOUR = 0
    resp = upload(client, b"%PDF-1.7\n")
    assert resp.status_code == 429 and resp["Retry-After"] == "3600"


def test_slot_is_given_back_when_the_check_fails(client, db, queue):
    resp = upload(client, b"%PDF-1.7\n%%EOF\n")  # no PKI: the check cannot start
    assert resp.status_code == 503 and resp.json()["code"] == "pki_missing"
    assert slots.slots_held() == []


def test_tools_are_not_queued(pki, queue, genuine_pdf):
    """verify_document without a client (staff tools, verify_pdf) runs at once."""
    from epolicy.verification.services import verify_document

    hold_general_slots()
    slots.slot_take(client="10.0.0.203", size=SMALL)
    assert verify_document(genuine_pdf).genuine


def _file(data: bytes):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile("p.pdf", data, content_type="application/pdf")


def test_large_files_are_checked_at_a_lower_cpu_priority(pki, settings, monkeypatch):
    """With the CPUs busy, a small file's short check gets most of a CPU, not an even share."""
    assert (slots.worker_nice(SMALL), slots.worker_nice(BIG)) == (0, slots.LARGE_FILE_NICE) == (0, 10)
    settings.VERIFY_CHECK_TIMEOUT_SECONDS = 1
    trust = worker.current_trust()
    monkeypatch.setattr(worker, "current_trust", lambda: trust)  # the thread has no test database
    sandbox.run_bounded(b"%PDF-1.7\n", at=clock.now())  # the fork server up
    slow = hostile.many_revisions(30_000)
    check = threading.Thread(target=sandbox.run_bounded, args=(slow,), kwargs={"at": clock.now(), "nice": 10})
    check.start()
    seen: set[int] = set()
    deadline = time.monotonic() + 5
    while 10 not in seen and time.monotonic() < deadline:
        for pid in worker_pids():
            with contextlib.suppress(ProcessLookupError):
                seen.add(os.getpriority(os.PRIO_PROCESS, pid))
        time.sleep(0.005)
    check.join()
    assert 10 in seen
