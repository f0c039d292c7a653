"""Audit events commit or roll back with the change they record; concurrent appends never fork the chain."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import pytest
from django.db import connection, connections, transaction

from epolicy.audit.models import AuditChainHead, AuditEvent
from epolicy.audit.selectors import audit_verify_chain
from epolicy.audit.services import audit_record


class Boom(Exception):
    pass


@pytest.mark.django_db
def test_rolled_back_transaction_leaves_no_event_and_the_head_unchanged():
    first = audit_record(action="policy.issued", actor="system", subject_type="policy", subject_id="P1")

    with pytest.raises(Boom), transaction.atomic():
        audit_record(action="policy.cancelled", actor="staff:alice", subject_type="policy", subject_id="P1")
        raise Boom

    assert list(AuditEvent.objects.values_list("seq", flat=True)) == [1]
    head = AuditChainHead.objects.get()
    assert (head.last_seq, head.last_hash) == (1, first.hash)

    after = audit_record(
        action="policy.cancelled", actor="staff:alice", subject_type="policy", subject_id="P1"
    )
    assert (after.seq, after.prev_hash) == (2, first.hash)
    assert audit_verify_chain().ok


@pytest.mark.django_db
def test_rollback_of_an_outer_savepoint_also_removes_the_event():
    with transaction.atomic():
        audit_record(action="a.b", actor="system", subject_type="t", subject_id="1")
        with pytest.raises(Boom), transaction.atomic():
            audit_record(action="a.c", actor="system", subject_type="t", subject_id="1")
            raise Boom
        audit_record(action="a.d", actor="system", subject_type="t", subject_id="1")

    assert list(AuditEvent.objects.values_list("seq", "action")) == [(1, "a.b"), (2, "a.d")]
    assert audit_verify_chain().ok


THREADS = 8
PER_THREAD = 15


@pytest.mark.django_db(transaction=True)
def test_concurrent_appends_make_one_gap_free_chain():
    if connection.vendor == "sqlite" and connection.is_in_memory_db():
        pytest.skip(
            "threads cannot write one shared-cache in-memory SQLite database at once (table locks are not "
            "retried); set EPOLICY_TEST_SQLITE, and see the multi-process test below"
        )
    start = threading.Barrier(THREADS)
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            start.wait()
            for i in range(PER_THREAD):
                # A business transaction that writes its audit event last, as services do.
                with transaction.atomic():
                    audit_record(
                        action="load.step", actor=f"api:worker{n}", subject_type="load", subject_id=f"{n}-{i}"
                    )
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert errors == []
    total = THREADS * PER_THREAD
    assert list(AuditEvent.objects.values_list("seq", flat=True)) == list(range(1, total + 1))
    assert AuditEvent.objects.values("subject_id").distinct().count() == total
    report = audit_verify_chain(batch_size=7)
    assert report.ok, report
    assert report.events_checked == total


PROCESSES = 4
PER_PROCESS = 20

_APPEND = """
import pathlib, time
from django.db import connection, transaction
from epolicy.audit.services import audit_record
connection.ensure_connection()
pathlib.Path({ready!r}).touch()
go = pathlib.Path({go!r})
while not go.exists():
    time.sleep(0.002)
for i in range({per}):
    with transaction.atomic():
        audit_record(action="load.step", actor="api:p{n}", subject_type="load", subject_id="{n}-%d" % i)
"""


def test_processes_appending_to_one_sqlite_file_make_one_chain(tmp_path):
    """The embedded deployment: several app processes on one SQLite (WAL) file."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "EPOLICY_DATABASE_URL": f"sqlite:///{tmp_path / 'epolicy.sqlite3'}",
        "EPOLICY_VAR_DIR": str(tmp_path),
    }

    def epolicy(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "epolicy", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    migrated = epolicy("migrate", "audit", "--no-input", "--skip-checks", "-v", "0")
    assert migrated.returncode == 0, migrated.stderr

    go = tmp_path / "go"
    ready = [tmp_path / f"ready-{n}" for n in range(PROCESSES)]
    procs = [
        subprocess.Popen(
            [
                *(sys.executable, "-m", "epolicy", "shell", "--no-imports", "-c"),
                _APPEND.format(n=n, per=PER_PROCESS, go=str(go), ready=str(ready[n])),
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(PROCESSES)
    ]
    deadline = time.monotonic() + 60
    while not all(r.exists() for r in ready) and time.monotonic() < deadline:
        time.sleep(0.01)
    go.touch()  # all processes connected: release them at once
    for proc in procs:
        _out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err

    verified = epolicy("audit_verify", "--batch-size", "9")
    total = PROCESSES * PER_PROCESS
    assert verified.returncode == 0, verified.stderr
    assert f"Audit chain OK: {total} events checked." in verified.stdout
