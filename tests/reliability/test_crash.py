"""kill -9 of the web server and of the task worker at several points of the payment callback and of
issuance, on real processes, with storage failing once: afterwards every paid application has exactly
one policy, archived in both copies, e-mailed once, and the audit chain verifies.

The installation under test runs in separate processes with its own database (a SQLite file, or a fresh
PostgreSQL database when the suite runs on PostgreSQL), its own var/ and secrets: `runserver`, one
`db_worker` and the `scheduler` (which sweeps the outbox). Each named crash point (epolicy.common.
failpoints) fires once, in whichever process reaches it first; a supervisor loop here restarts whatever
died, as systemd would. The test acts as the payment gateway: it delivers each signed notification and
delivers it again until the answer is "success".
"""

from __future__ import annotations

import time

import pytest

from ._installation import (
    Database,
    Supervisor,
    acknowledged,
    check_invariants,
    db_worker,
    deliver,
    free_port,
    installation_env,
    logs_tail,
    runserver,
    scheduler,
    set_up,
)

APPLICATIONS = 6
DEADLINE_SECONDS = 240

SERVER_POINTS = {
    "payment.notify.before_commit": "kill",  # inside the payment transaction
    "payment.notify.after_commit": "kill",  # committed, the gateway never got its answer
}
WORKER_POINTS = {
    "archive.primary.policy": "raise",  # storage fails once while issuing
    "policy.issue.before_commit": "kill",  # sealed and stored, not committed
    "outbox.after_handler": "kill",  # committed, the job not marked done (lease takeover)
    "archive.second_copy.policy": "raise",  # the second copy fails once
    "notification.email.before_send": "kill",  # the e-mail's delivery job dies before sending
}

pytestmark = pytest.mark.crash


def test_paid_applications_survive_kill_9_and_storage_failures(tmp_path):
    home = tmp_path
    db = Database(home)
    port = free_port()
    env = installation_env(home, db, port)
    supervisor = None
    try:
        notifications = set_up(env, APPLICATIONS)

        points = {**SERVER_POINTS, **WORKER_POINTS}
        fired = home / "failpoints"
        fired.mkdir()
        crash_env = {
            **env,
            "EPOLICY_FAILPOINTS": ",".join(f"{k}={v}" for k, v in points.items()),
            "EPOLICY_FAILPOINT_DIR": str(fired),
        }
        supervisor = Supervisor(
            crash_env, home, {"server": runserver(port), "worker": db_worker(), "scheduler": scheduler()}
        )
        supervisor.start_all()

        acknowledged_apps: set[str] = set()
        started = time.monotonic()
        done = False
        while time.monotonic() - started < DEADLINE_SECONDS:
            supervisor.tend()
            for n in notifications:  # the gateway delivers again until acknowledged
                if n["application"] not in acknowledged_apps and acknowledged(deliver(n)):
                    acknowledged_apps.add(n["application"])
            if len(acknowledged_apps) == APPLICATIONS:
                statuses = db.rows("SELECT status FROM motor_application")
                open_jobs = db.rows("SELECT count(*) FROM ops_outboxjob WHERE status <> 'done'")[0][0]
                if all(s == "issued" for (s,) in statuses) and open_jobs == 0:
                    done = True
                    break
            time.sleep(0.5)
        elapsed = time.monotonic() - started
        supervisor.stop()
        supervisor = None
        progress = db.rows("SELECT number, status FROM motor_application")
        assert done, f"not all issued within {DEADLINE_SECONDS} s: {progress}\n{logs_tail(home)}"

        # Every crash point was reached and fired (the test cannot pass without the crashes).
        assert sorted(p.name for p in fired.iterdir()) == sorted(points)

        report = check_invariants(env, APPLICATIONS)
        print(f"all {APPLICATIONS} issued {elapsed:.1f} s after the first delivery; report {report}")
    finally:
        if supervisor is not None:
            supervisor.stop()
        db.drop()
