"""The outbox: jobs commit with their change, run at least once, retry with back-off, survive a dead
worker (lease takeover), and raise an alert when stuck."""

import datetime as dt
import logging

import pytest
from django.db import transaction

from epolicy.audit.models import AuditEvent
from epolicy.common import clock
from epolicy.common.errors import ApplicationError
from epolicy.ops import outbox
from epolicy.ops.models import OutboxJob
from epolicy.ops.outbox import Kind, outbox_enqueue, outbox_retry_now, outbox_run, outbox_sweep

pytestmark = pytest.mark.django_db(transaction=True)

CALLS: list[str] = []
FAILURES_LEFT: dict[str, int] = {}
T0 = dt.datetime(2026, 12, 1, 9, 0, tzinfo=clock.SHANGHAI)


def handler(subject: str) -> None:
    CALLS.append(subject)
    if FAILURES_LEFT.get(subject, 0) > 0:
        FAILURES_LEFT[subject] -= 1
        raise OSError("storage briefly unavailable")


@pytest.fixture(autouse=True)
def test_kind(monkeypatch, settings):
    CALLS.clear()
    FAILURES_LEFT.clear()
    monkeypatch.setitem(outbox.KINDS, "test.effect", Kind(f"{__name__}.handler", "测试", "重试"))
    settings.OUTBOX = {
        "lease_seconds": 60,
        "retry_base_seconds": 10,
        "retry_max_seconds": 100,
        "alert_after_attempts": 3,
        "alert_after_seconds": 600,
    }


def test_a_job_commits_with_its_change_and_runs_after_the_commit():
    with clock.frozen_clock(T0):
        with transaction.atomic():
            outbox_enqueue(kind="test.effect", subject=1, reference="A-1")
            assert CALLS == []  # nothing runs before the commit
        assert CALLS == ["1"]
        job = OutboxJob.objects.get()
        assert job.status == "done" and job.attempts == 1 and job.done_at == T0


def test_a_rolled_back_change_leaves_no_job():
    with pytest.raises(RuntimeError), transaction.atomic():
        outbox_enqueue(kind="test.effect", subject=2)
        raise RuntimeError("the change failed")
    assert not OutboxJob.objects.exists() and CALLS == []


def test_asking_twice_for_the_same_effect_makes_one_job():
    with clock.frozen_clock(T0):
        outbox_enqueue(kind="test.effect", subject=3)
        outbox_enqueue(kind="test.effect", subject=3)
    assert OutboxJob.objects.count() == 1 and CALLS == ["3"]  # done: not run again


def test_a_failure_is_retried_with_growing_back_off_until_done():
    FAILURES_LEFT["4"] = 2
    with clock.frozen_clock(T0):
        outbox_enqueue(kind="test.effect", subject=4)
    job = OutboxJob.objects.get()
    assert job.status == "pending" and job.attempts == 1 and job.last_error == "OSError"
    first_delay = (job.next_attempt_at - T0).total_seconds()
    assert 8 <= first_delay <= 10  # 10 s base, up to 20% jitter
    with clock.frozen_clock(T0 + dt.timedelta(seconds=5)):
        assert outbox_run(job.pk) == "skipped"  # not due yet
    at = job.next_attempt_at
    with clock.frozen_clock(at):
        assert outbox_run(job.pk) == "retry"
    job.refresh_from_db()
    second_delay = (job.next_attempt_at - at).total_seconds()
    assert 16 <= second_delay <= 20  # doubled
    with clock.frozen_clock(job.next_attempt_at):
        assert outbox_run(job.pk) == "done"
    job.refresh_from_db()
    assert job.status == "done" and job.attempts == 3 and job.last_error == ""
    assert CALLS == ["4", "4", "4"]


def test_a_job_whose_worker_died_is_taken_over_when_its_lease_ends():
    with clock.frozen_clock(T0):
        job = OutboxJob.objects.create(
            kind="test.effect",
            subject="5",
            status="running",
            attempts=1,
            next_attempt_at=T0,
            lease_until=T0 + dt.timedelta(seconds=60),
            leased_by="a-worker-that-was-killed",
            created_at=T0,
        )
    with clock.frozen_clock(T0 + dt.timedelta(seconds=30)):
        assert outbox_run(job.pk) == "skipped"  # the lease still holds
        assert outbox_sweep().taken_over == 0
    with clock.frozen_clock(T0 + dt.timedelta(seconds=61)):
        report = outbox_sweep()
    assert report.taken_over == 1 and report.dispatched == 1
    job.refresh_from_db()
    assert job.status == "done" and CALLS == ["5"] and job.attempts == 2


def test_the_sweep_dispatches_due_jobs_once_per_lease_period(monkeypatch):
    dispatched = []
    monkeypatch.setattr(outbox, "_dispatch", lambda job_id: dispatched.append(job_id))
    with clock.frozen_clock(T0):
        job = outbox_enqueue(kind="test.effect", subject=6)  # dispatch replaced: nothing runs
        dispatched.clear()
        OutboxJob.objects.filter(pk=job.pk).update(dispatched_at=T0)
        assert outbox_sweep().dispatched == 0  # just dispatched: its run may be queued
    with clock.frozen_clock(T0 + dt.timedelta(seconds=61)):
        assert outbox_sweep().dispatched == 1
    assert dispatched == [job.pk]


def test_a_stuck_job_raises_one_alert_and_staff_can_retry_it_now(caplog):
    FAILURES_LEFT["7"] = 4
    with clock.frozen_clock(T0):
        job = outbox_enqueue(kind="test.effect", subject=7, reference="TDZA-7")
    for _ in range(2):
        job.refresh_from_db()
        with clock.frozen_clock(job.next_attempt_at):
            outbox_run(job.pk)
    job.refresh_from_db()
    assert job.attempts == 3 and job.status == "pending"
    assert list(outbox.stuck_jobs(now=T0)) == [job]
    with caplog.at_level(logging.ERROR, logger="epolicy.outbox"), clock.frozen_clock(T0):
        assert outbox_sweep().alerted == 1
        assert outbox_sweep().alerted == 0  # once
    assert "outbox ALERT" in caplog.text and "TDZA-7" in caplog.text
    with clock.frozen_clock(T0 + dt.timedelta(seconds=1)):
        outbox_retry_now(job_id=job.pk, actor="staff:alice")  # fails a 4th time, then is due again
    job.refresh_from_db()
    assert job.attempts == 4 and job.status == "pending" and CALLS.count("7") == 4
    with clock.frozen_clock(T0 + dt.timedelta(seconds=2)):
        outbox_retry_now(job_id=job.pk, actor="staff:alice")
    job.refresh_from_db()
    assert job.status == "done"
    events = AuditEvent.objects.filter(action="outbox.retry_requested")
    assert events.count() == 2 and events.first().actor == "staff:alice"
    with pytest.raises(ApplicationError) as refused:
        outbox_retry_now(job_id=job.pk, actor="staff:alice")
    assert refused.value.code == "application_state"


def test_an_old_job_not_done_counts_as_stuck():
    with clock.frozen_clock(T0):
        job = OutboxJob.objects.create(kind="test.effect", subject="8", next_attempt_at=T0, created_at=T0)
    assert list(outbox.stuck_jobs(now=T0 + dt.timedelta(seconds=599))) == []
    assert list(outbox.stuck_jobs(now=T0 + dt.timedelta(seconds=601))) == [job]


def test_an_unknown_kind_is_refused():
    with pytest.raises(ValueError):
        outbox_enqueue(kind="no.such", subject=1)
