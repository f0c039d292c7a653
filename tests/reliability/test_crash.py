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

import contextlib
import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EPOLICY = str(Path(sys.executable).parent / "epolicy")
CHILD = str(Path(__file__).with_name("crash_child.py"))
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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Database:
    """The installation's own database: a SQLite file, or a new PostgreSQL database."""

    def __init__(self, home: Path):
        base = os.environ.get("EPOLICY_DATABASE_URL", "")
        self.pg_admin = None
        if base.startswith(("postgres://", "postgresql://")):
            import psycopg

            self.pg_admin = base.rsplit("/", 1)[0] + "/postgres"
            name = f"epolicy_crash_{uuid.uuid4().hex[:8]}"
            with psycopg.connect(self.pg_admin, autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{name}"')
            self.name = name
            self.url = base.rsplit("/", 1)[0] + "/" + name
        else:
            self.path = home / "crash.sqlite3"
            self.url = f"sqlite:///{self.path}"

    def rows(self, sql: str) -> list[tuple]:
        if self.pg_admin is None:
            with contextlib.closing(sqlite3.connect(self.path, timeout=10)) as conn:
                return conn.execute(sql).fetchall()
        import psycopg

        with psycopg.connect(self.url) as conn:
            return conn.execute(sql).fetchall()

    def drop(self) -> None:
        if self.pg_admin is None:
            return
        import psycopg

        with psycopg.connect(self.pg_admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


class Supervisor:
    """Starts the three processes and restarts any that dies (each with the same environment)."""

    def __init__(self, env: dict[str, str], logs: Path, port: int):
        self.env, self.logs, self.port = env, logs, port
        self.commands = {
            "server": [EPOLICY, "runserver", f"127.0.0.1:{port}", "--noreload", "--insecure"],
            "worker": [EPOLICY, "db_worker", "--interval", "0.2"],
            "scheduler": [EPOLICY, "scheduler", "--interval", "0.5"],
        }
        self.procs: dict[str, subprocess.Popen] = {}
        self.restarts: dict[str, int] = dict.fromkeys(self.commands, 0)
        self.killed: dict[str, int] = dict.fromkeys(self.commands, 0)

    def start(self, name: str) -> None:
        log = (self.logs / f"{name}.log").open("a")
        self.procs[name] = subprocess.Popen(
            self.commands[name], env=self.env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT
        )

    def start_all(self) -> None:
        for name in self.commands:
            self.start(name)

    def tend(self) -> None:
        for name, proc in self.procs.items():
            code = proc.poll()
            if code is not None:
                if code == -9:
                    self.killed[name] += 1
                self.restarts[name] += 1
                self.start(name)

    def stop(self) -> None:
        for proc in self.procs.values():
            proc.kill()
        for proc in self.procs.values():
            proc.wait(timeout=10)


def _deliver(notification: dict) -> bool:
    """One delivery attempt by the gateway: True when the merchant answered 200 "success"."""
    request = urllib.request.Request(
        notification["url"],
        data=notification["body"].encode(),
        method="POST",
        headers={"Content-Type": "application/json", **notification["headers"]},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status == 200 and resp.read().strip() == b"success"
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        return False


def _run(args: list[str], env: dict[str, str], timeout: int = 300) -> str:
    result = subprocess.run(args, env=env, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    assert result.returncode == 0, f"{' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def test_paid_applications_survive_kill_9_and_storage_failures(tmp_path):
    home = tmp_path
    db = Database(home)
    port = _free_port()
    base_env = {k: v for k, v in os.environ.items() if not k.startswith(("EPOLICY_", "DJANGO_"))}
    env = {
        **base_env,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "EPOLICY_DATABASE_URL": db.url,
        "EPOLICY_VAR_DIR": str(home / "var"),
        "EPOLICY_SITE_URL": f"http://127.0.0.1:{port}",
        "EPOLICY_TASK_BACKEND": "django_tasks_db.DatabaseBackend",
        "EPOLICY_SANDBOX_PAYMENT_DELIVERY": "http",
        "EPOLICY_OUTBOX_LEASE_SECONDS": "5",
        "EPOLICY_OUTBOX_RETRY_SECONDS": "1",
        "EPOLICY_OUTBOX_RETRY_MAX_SECONDS": "4",
        "PYTHONUNBUFFERED": "1",
    }
    supervisor = None
    try:
        _run([EPOLICY, "migrate", "--no-input", "-v", "0"], env)
        _run([EPOLICY, "pki_init"], env)
        notifications = json.loads(_run([sys.executable, CHILD, "prepare", str(APPLICATIONS)], env))
        assert len(notifications) == APPLICATIONS

        points = {**SERVER_POINTS, **WORKER_POINTS}
        fired = home / "failpoints"
        fired.mkdir()
        crash_env = {
            **env,
            "EPOLICY_FAILPOINTS": ",".join(f"{k}={v}" for k, v in points.items()),
            "EPOLICY_FAILPOINT_DIR": str(fired),
        }
        supervisor = Supervisor(crash_env, home, port)
        supervisor.start_all()

        acknowledged: set[str] = set()
        started = time.monotonic()
        done = False
        while time.monotonic() - started < DEADLINE_SECONDS:
            supervisor.tend()
            for n in notifications:  # the gateway delivers again until acknowledged
                if n["application"] not in acknowledged and _deliver(n):
                    acknowledged.add(n["application"])
            if len(acknowledged) == APPLICATIONS:
                statuses = db.rows("SELECT status FROM motor_application")
                open_jobs = db.rows("SELECT count(*) FROM ops_outboxjob WHERE status <> 'done'")[0][0]
                if all(s == "issued" for (s,) in statuses) and open_jobs == 0:
                    done = True
                    break
            time.sleep(0.5)
        elapsed = time.monotonic() - started
        supervisor.stop()
        supervisor = None
        logs = "\n".join(p.read_text(errors="replace")[-3000:] for p in sorted(home.glob("*.log")))
        progress = db.rows("SELECT number, status FROM motor_application")
        assert done, f"not all issued within {DEADLINE_SECONDS} s: {progress}\n{logs}"

        # Every crash point was reached and fired (the test cannot pass without the crashes).
        assert sorted(p.name for p in fired.iterdir()) == sorted(points)

        report = json.loads(_run([sys.executable, CHILD, "check"], env))
        print(f"all {APPLICATIONS} issued {elapsed:.1f} s after the first delivery; report {report}")
        assert report["jobs_open"] == 0
        for number, entry in report["applications"].items():
            assert entry["status"] == "issued", number
            assert entry["policies"] == 1, number
            assert entry["objects"] >= 1 and entry["unreplicated"] == 0, (number, entry)
            assert entry["mails"] == 1 and entry["mail_logs_sent"] == 1, (number, entry)
        _run([EPOLICY, "audit_verify"], env)
    finally:
        if supervisor is not None:
            supervisor.stop()
        db.drop()
