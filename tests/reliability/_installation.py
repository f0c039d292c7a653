"""A whole installation in separate processes, for the crash and load tests of tests/reliability.

Each test gets its own database (a SQLite file, a fresh database on the suite's PostgreSQL, or a private
PostgreSQL server it starts itself), its own var/ and secrets. A supervisor starts the processes and
restarts whatever dies, as systemd would; the test plays the payment gateway and delivers the signed
notifications until the answer is "success"; crash_child.py prepares the applications and checks the
invariants from inside the installation.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import queue
import random
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
EPOLICY = str(BIN / "epolicy")
GUNICORN = str(BIN / "gunicorn")
CHILD = str(Path(__file__).with_name("crash_child.py"))
PG_BIN = Path("/usr/lib/postgresql/15/bin")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Database:
    """The installation's own database: a SQLite file, or a new database on a PostgreSQL server (the
    suite's, named by EPOLICY_DATABASE_URL, or `server`, the URL of any database on another one)."""

    def __init__(self, home: Path, server: str | None = None):
        base = server or os.environ.get("EPOLICY_DATABASE_URL", "")
        self.pg_admin: str | None = None
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

    @property
    def engine(self) -> str:
        return "sqlite" if self.pg_admin is None else "postgresql"

    def rows(self, sql: str) -> list[tuple]:
        if self.pg_admin is None:
            with contextlib.closing(sqlite3.connect(self.path, timeout=10)) as conn:
                return conn.execute(sql).fetchall()
        import psycopg

        with psycopg.connect(self.url, connect_timeout=5) as conn:
            return conn.execute(sql).fetchall()

    def drop(self) -> None:
        if self.pg_admin is None:
            return
        import psycopg

        with psycopg.connect(self.pg_admin, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


class PrivatePostgres:
    """A PostgreSQL server of the test's own (initdb as the postgres OS user into a temporary directory,
    a free port, its socket in that directory), so that the test may stop and restart it."""

    @staticmethod
    def unavailable() -> str | None:
        """Why a private server cannot be started here, or None."""
        if not (PG_BIN / "initdb").exists() or not (PG_BIN / "pg_ctl").exists():
            return f"PostgreSQL binaries not found under {PG_BIN}"
        if os.geteuid() != 0:
            return "initdb must run as the postgres OS user: this test needs root (runuser)"
        if shutil.which("runuser") is None:
            return "runuser is not installed"
        try:
            import pwd

            pwd.getpwnam("postgres")
        except KeyError:
            return "no postgres OS user"
        return None

    def __init__(self) -> None:
        # Not under pytest's tmp_path: its parents are private to root and the server runs as postgres.
        self.dir = Path(tempfile.mkdtemp(prefix="epolicy-pg-"))
        shutil.chown(self.dir, "postgres", "postgres")
        self.data = self.dir / "data"
        self.log = self.dir / "server.log"
        self.port = free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        self.restarts = 0
        self._as_postgres([str(PG_BIN / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres"])

    def _as_postgres(self, args: list[str], timeout: int = 120) -> None:
        result = subprocess.run(
            ["runuser", "-u", "postgres", "--", *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=self.dir,
        )
        assert result.returncode == 0, f"{' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"

    def _ctl(self, *args: str) -> None:
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._as_postgres(
            [str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", *args]
        )

    def start(self) -> None:
        self._ctl("start")

    def stop_immediate(self) -> None:
        """What a crash of the server looks like to its clients: connections cut, no checkpoint."""
        self._ctl("stop", "-m", "immediate")

    def restart_immediate(self) -> None:
        self._ctl("restart", "-m", "immediate")
        self.restarts += 1

    def destroy(self) -> None:
        with contextlib.suppress(Exception):
            self._ctl("stop", "-m", "immediate")
        shutil.rmtree(self.dir, ignore_errors=True)


def installation_env(home: Path, db: Database, port: int) -> dict[str, str]:
    """The environment of every process of the installation: settings from environment variables only."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("EPOLICY_", "DJANGO_"))}
    return {
        **base,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "EPOLICY_DATABASE_URL": db.url,
        "EPOLICY_VAR_DIR": str(home / "var"),
        "EPOLICY_SITE_URL": f"http://127.0.0.1:{port}",
        "EPOLICY_TASK_BACKEND": "django_tasks_db.DatabaseBackend",
        "EPOLICY_SANDBOX_PAYMENT_DELIVERY": "http",
        "EPOLICY_OUTBOX_LEASE_SECONDS": "5",
        "EPOLICY_OUTBOX_RETRY_SECONDS": "1",
        "EPOLICY_OUTBOX_RETRY_MAX_SECONDS": "4",
        # The test is one address delivering many notifications; the per-address floor is not under test.
        "EPOLICY_PUBLIC_REQUESTS_PER_MINUTE": "0",
        "PYTHONUNBUFFERED": "1",
    }


def run(args: list[str], env: dict[str, str], timeout: int = 300) -> str:
    result = subprocess.run(args, env=env, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    assert result.returncode == 0, f"{' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def set_up(env: dict[str, str], applications: int) -> list[dict]:
    """Migrate, make the PKI, and bring `applications` applications to the point where the gateway
    notifies their payment; returns the signed notifications."""
    run([EPOLICY, "migrate", "--no-input", "-v", "0"], env)
    run([EPOLICY, "pki_init"], env)
    # ~1 s per application on an idle 2-core machine; far more when other tests share it.
    notifications = json.loads(run([sys.executable, CHILD, "prepare", str(applications)], env, timeout=600))
    assert len(notifications) == applications
    return notifications


def runserver(port: int) -> list[str]:
    return [EPOLICY, "runserver", f"127.0.0.1:{port}", "--noreload", "--insecure"]


def gunicorn(port: int, workers: int = 3, threads: int = 4) -> list[str]:
    """The production web server as scripts/serve.sh runs it (config/gunicorn.conf.py, several worker
    processes with several threads each), with `workers` processes."""
    return [
        GUNICORN,
        "--config",
        str(ROOT / "config" / "gunicorn.conf.py"),
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--threads",
        str(threads),
        "--graceful-timeout",
        "5",
        # Its default control socket is one path per OS user: the installations of parallel tests
        # would take it from each other.
        "--no-control-socket",
        "config.wsgi:application",
    ]


def production_tier(port: int) -> dict[str, list[str]]:
    """What a production machine runs: gunicorn (3 workers), two task workers and the scheduler."""
    return {
        "web": gunicorn(port, workers=3),
        "worker-1": db_worker(),
        "worker-2": db_worker(),
        "scheduler": scheduler(),
    }


def db_worker() -> list[str]:
    return [EPOLICY, "db_worker", "--interval", "0.2"]


def scheduler() -> list[str]:
    return [EPOLICY, "scheduler", "--interval", "0.5"]


class Supervisor:
    """Starts the processes and restarts any that dies, with the same environment. Each runs in its own
    process group; when one dies, what is left of its group is killed too (systemd's control group), so
    that orphaned gunicorn workers do not hold the port."""

    def __init__(self, env: dict[str, str], logs: Path, commands: dict[str, list[str]]):
        self.env, self.logs, self.commands = env, logs, commands
        self.procs: dict[str, subprocess.Popen] = {}
        self.restarts: Counter[str] = Counter()
        self.killed: Counter[str] = Counter()
        self.exits: Counter[str] = Counter()  # ended by themselves (not by a signal)
        self.lock = threading.RLock()

    def start(self, name: str) -> None:
        log = (self.logs / f"{name}.log").open("a")
        self.procs[name] = subprocess.Popen(
            self.commands[name],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            start_new_session=True,
        )

    def start_all(self) -> None:
        for name in self.commands:
            self.start(name)

    def tend(self) -> None:
        with self.lock:
            for name, proc in list(self.procs.items()):
                code = proc.poll()
                if code is None:
                    continue
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGKILL)
                if code == -signal.SIGKILL:
                    self.killed[name] += 1
                else:
                    self.exits[name] += 1
                self.restarts[name] += 1
                self.start(name)

    def children(self, name: str) -> list[int]:
        """The process ids of the direct children of `name` (gunicorn's workers)."""
        pid = self.procs[name].pid
        try:
            return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
        except OSError:
            return []

    def stop(self) -> None:
        with self.lock:
            for proc in self.procs.values():
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGKILL)
            for proc in self.procs.values():
                proc.wait(timeout=10)

    def wait_listening(self, port: int, timeout: float = 60) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            self.tend()
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                return
            time.sleep(0.2)
        raise AssertionError(f"the web server did not listen on {port} within {timeout} s")


def post(url: str, body: bytes, headers: dict[str, str], timeout: float = 30) -> tuple[int, bytes]:
    """One HTTP POST: (status, body), or (0, the exception's name) when no answer came (refused, reset,
    timed out)."""
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
        # A server killed while answering: refused, reset, timed out, or an answer cut short
        # (http.client's IncompleteRead, BadStatusLine, which are no OSError).
        reason = getattr(exc, "reason", exc)
        return 0, type(reason if isinstance(reason, BaseException) else exc).__name__.encode()


def label(answer: tuple[int, bytes]) -> str:
    """ "200 success", "503 fail", "no answer (ConnectionRefusedError)", ..."""
    if answer[0] == 0:
        return f"no answer ({answer[1].decode()})"
    return f"{answer[0]} {answer[1][:20].decode(errors='replace')}"


def deliver(notification: dict) -> tuple[int, bytes]:
    """One delivery attempt by the gateway."""
    return post(
        notification["url"],
        notification["body"].encode(),
        {"Content-Type": "application/json", **notification["headers"]},
    )


def acknowledged(answer: tuple[int, bytes]) -> bool:
    return answer[0] == 200 and answer[1].strip() == b"success"


@dataclass
class Gateway:
    """The payment gateway under load: `threads` threads deliver the notifications concurrently, each
    again (after a short pause) until the merchant acknowledges it."""

    notifications: list[dict]
    threads: int = 8
    acknowledged: set[str] = field(default_factory=set)
    answers: Counter[str] = field(default_factory=Counter)  # "200 success", "503 fail", "no answer (…)", ...
    phase: str = "load"  # the test names what is going on; answers are also counted by phase
    by_phase: dict[str, Counter[str]] = field(default_factory=dict)
    first_ack: float | None = None
    last_ack: float | None = None

    def __post_init__(self) -> None:
        self._todo: queue.Queue[dict] = queue.Queue()
        for n in self.notifications:
            self._todo.put(n)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._workers = [threading.Thread(target=self._run, daemon=True) for _ in range(self.threads)]

    def start(self) -> None:
        for t in self._workers:
            t.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                n = self._todo.get(timeout=0.2)
            except queue.Empty:
                continue
            answer = deliver(n)
            with self._lock:
                self.answers[label(answer)] += 1
                self.by_phase.setdefault(self.phase, Counter())[label(answer)] += 1
                if acknowledged(answer):
                    now = time.monotonic()
                    self.first_ack = self.first_ack or now
                    self.last_ack = now
                    self.acknowledged.add(n["application"])
                    continue
            time.sleep(random.uniform(0.2, 0.6))
            self._todo.put(n)

    @property
    def done(self) -> bool:
        return len(self.acknowledged) == len(self.notifications)

    def stop(self) -> None:
        self._stop.set()
        for t in self._workers:
            t.join(timeout=20)


def progress(db: Database) -> tuple[dict[str, int], int]:
    """Applications by status, and outbox jobs not done."""
    statuses = Counter(s for (s,) in db.rows("SELECT status FROM motor_application"))
    open_jobs = db.rows("SELECT count(*) FROM ops_outboxjob WHERE status <> 'done'")[0][0]
    return dict(statuses), open_jobs


def all_issued(db: Database, applications: int) -> bool:
    try:
        statuses, open_jobs = progress(db)
    except Exception:  # the database may be down in the middle of a test
        return False
    return statuses.get("issued", 0) == applications and open_jobs == 0


def logs_tail(home: Path, chars: int = 3000) -> str:
    return "\n".join(
        f"--- {p.name}\n" + p.read_text(errors="replace")[-chars:] for p in sorted(home.glob("*.log"))
    )


def check_invariants(env: dict[str, str], applications: int, repeated_mails_allowed: int = 0) -> dict:
    """Every application paid has exactly one policy, archived in both copies, one e-mail recorded as
    sent and one message (by Message-ID) in the mail outbox; no outbox job open; the audit chain
    verifies. A kill between the mail server's acceptance and our record sends the same message again
    (docs/reliability.md); `repeated_mails_allowed` bounds those repeats (one per random kill of a
    worker at most). Returns crash_child's report."""
    report = json.loads(run([sys.executable, CHILD, "check"], env))
    assert len(report["applications"]) == applications, report
    assert report["jobs_open"] == 0, report
    repeats = 0
    for number, entry in report["applications"].items():
        assert entry["status"] == "issued", (number, entry)
        assert entry["policies"] == 1, (number, entry)
        assert entry["objects"] >= 1 and entry["unreplicated"] == 0, (number, entry)
        assert entry["mail_logs_sent"] == 1, (number, entry)
        assert entry["mails"] >= 1, (number, entry)
        repeats += entry["mails"] - 1
    assert repeats <= repeated_mails_allowed, f"{repeats} e-mails sent twice: {report}"
    report["repeated_mails"] = repeats
    run([EPOLICY, "audit_verify"], env)
    return report


def deadline_message(what: str, seconds: float, db: Database, home: Path, extra: Any = None) -> str:
    try:
        state: Any = progress(db)
    except Exception as exc:  # pragma: no cover - only in a failure message
        state = repr(exc)
    return f"{what} not done within {seconds} s: {state} {extra or ''}\n{logs_tail(home)}"
