"""The database goes away under load and comes back: a private PostgreSQL server (initdb into a temporary
directory, its own port), the production web server (gunicorn, three workers), two task workers and the
scheduler, gateway threads delivering the payments of many applications, and in the middle of it the
server is stopped with `-m immediate` (what a crash looks like to clients), left down for a few seconds,
started again, and later restarted with `pg_ctl restart -m immediate`.

While the database is down, an API client keeps asking for a captcha (a request that writes to the
database): every answer must be coded JSON, 503 `database_unavailable`, not a server error or a
dropped connection; the gateway's notifications are answered "fail" (503), so it delivers them again.
Afterwards, without the web server or the scheduler having been restarted (Django reconnects: health-
checked persistent connections, CONN_HEALTH_CHECKS; the task workers of django-tasks-db end on such an
error and their supervisor starts them again), every application has exactly one policy, archived
in both copies, one e-mail; no outbox job is open; the audit chain verifies.

The test brings its own server, so it runs in both passes of the suite (SQLite and PostgreSQL).
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections import Counter

import pytest

from ._installation import (
    GUNICORN,
    Database,
    Gateway,
    PrivatePostgres,
    Supervisor,
    all_issued,
    check_invariants,
    deadline_message,
    free_port,
    installation_env,
    post,
    production_tier,
    set_up,
)

APPLICATIONS = 24
GATEWAY_THREADS = 8
DEADLINE_SECONDS = 240
OUTAGE_SECONDS = 4
MAX_OUTAGE_SECONDS = 40

pytestmark = [
    pytest.mark.crash,
    pytest.mark.skipif(not os.path.exists(GUNICORN), reason="gunicorn is not installed in this venv"),
    pytest.mark.skipif(PrivatePostgres.unavailable() is not None, reason=str(PrivatePostgres.unavailable())),
]


class Prober:
    """An API client asking for a captcha every 0.1 s; each answer is filed under the phase it was sent
    in ("up", "down", "back") as "<status> <code>" ("no answer (<exception>)" when none came)."""

    def __init__(self, port: int):
        self.url = f"http://127.0.0.1:{port}/api/v1/public/captcha"
        self.phase = "up"
        self.answers: dict[str, Counter[str]] = {"up": Counter(), "down": Counter(), "back": Counter()}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=20)

    def answered(self, phase: str) -> int:
        return sum(self.answers[phase].values())

    def _run(self) -> None:
        while not self._stop.wait(0.1):
            phase = self.phase
            answer = post(self.url, b"", {"Content-Type": "application/json"}, timeout=10)
            if phase != self.phase:
                continue  # sent across a change of phase: belongs to neither
            if answer[0] == 0:
                label = f"no answer ({answer[1].decode()})"
            else:
                try:
                    label = f"{answer[0]} {json.loads(answer[1]).get('code', '-')}"
                except ValueError:
                    label = f"{answer[0]} not JSON"
                if answer[0] == 200:
                    label = "200"
            self.answers[phase][label] += 1


def test_postgresql_restart_under_load(tmp_path):
    home = tmp_path
    server = PrivatePostgres()
    supervisor = gateway = prober = None
    try:
        server.start()
        db = Database(home, server=server.url)
        port = free_port()
        env = installation_env(home, db, port)
        prepare_started = time.monotonic()
        notifications = set_up(env, APPLICATIONS)
        prepare_seconds = time.monotonic() - prepare_started

        supervisor = Supervisor(
            env,
            home,
            production_tier(port),
        )
        supervisor.start_all()
        supervisor.wait_listening(port)
        pids = {name: proc.pid for name, proc in supervisor.procs.items()}

        prober = Prober(port)
        prober.start()
        gateway = Gateway(notifications, threads=GATEWAY_THREADS)
        started = time.monotonic()
        gateway.start()

        # Let a part of the payments through, then cut the database off in the middle of the load.
        while len(gateway.acknowledged) < APPLICATIONS // 4 and time.monotonic() - started < 60:
            supervisor.tend()
            time.sleep(0.1)
        acknowledged_before = len(gateway.acknowledged)
        web_workers = sorted(supervisor.children("web"))
        assert len(web_workers) == 3, web_workers
        prober.phase = gateway.phase = "down"
        outage_started = time.monotonic()
        server.stop_immediate()
        # Down for OUTAGE_SECONDS, and until the prober has had three answers (a busy machine may keep
        # its first requests waiting), at most MAX_OUTAGE_SECONDS.
        while time.monotonic() - outage_started < MAX_OUTAGE_SECONDS and (
            time.monotonic() - outage_started < OUTAGE_SECONDS or prober.answered("down") < 3
        ):
            supervisor.tend()
            time.sleep(0.2)
        prober.phase = gateway.phase = "back"
        server.start()
        outage_seconds = time.monotonic() - outage_started
        time.sleep(3)
        # And once more while issuance is running: a restart without a pause.
        server.restart_immediate()

        done = False
        while time.monotonic() - started < DEADLINE_SECONDS:
            supervisor.tend()
            if gateway.done and all_issued(db, APPLICATIONS):
                done = True
                break
            time.sleep(0.5)
        elapsed = time.monotonic() - started
        prober.stop()
        gateway.stop()
        restarted = {name: proc.pid for name, proc in supervisor.procs.items() if pids[name] != proc.pid}
        web_workers_after = sorted(supervisor.children("web"))
        supervisor.stop()
        assert done, deadline_message(
            f"{APPLICATIONS} applications paid and issued across a PostgreSQL restart",
            DEADLINE_SECONDS,
            db,
            home,
            {"acknowledged": len(gateway.acknowledged), "probes": prober.answers},
        )

        # The web server, the scheduler and the task workers (the platform's db_worker waits out the
        # outage) reconnected by themselves: not one of their processes ended.
        assert restarted == {}, dict(supervisor.restarts)
        assert web_workers_after == web_workers, "a gunicorn worker died during the outage"
        assert not supervisor.killed, supervisor.killed

        # While the database was down the API answered coded JSON: 503 database_unavailable, nothing else.
        down = prober.answers["down"]
        assert down, "no request reached the web server during the outage"
        assert set(down) == {"503 database_unavailable"}, down
        # And once it was back, it answered again (the first requests after it may still meet the
        # second, immediate restart). The captcha's own limit per client, counted in the database,
        # refuses most of the prober's requests after a while: that answer needs the database too.
        back = prober.answers["back"]
        assert back["200"] + back["429 rate_limited"] > 0, back
        assert set(back) <= {"200", "429 rate_limited", "503 database_unavailable"}, back
        assert set(gateway.answers) <= {"200 success", "503 fail"}, gateway.by_phase

        # The database going away between the mail server's acceptance and our record of it is the same
        # window as a kill there (docs/reliability.md, "E-mail"): the retry sends the message again, with
        # its Message-ID. Each of the two outages (stop, immediate restart) can catch each task worker in it.
        report = check_invariants(env, APPLICATIONS, repeated_mails_allowed=2 * 2)
        print(
            f"\npg restart: {APPLICATIONS} applications prepared in {prepare_seconds:.1f} s; database down "
            f"{outage_seconds:.1f} s after {acknowledged_before} payments acknowledged, then one "
            f"`restart -m immediate`; all acknowledged and issued {elapsed:.1f} s after the first delivery; "
            f"probes {{{', '.join(f'{k}: {dict(v)}' for k, v in prober.answers.items())}}}; gateway answers "
            f"{ {k: dict(v) for k, v in gateway.by_phase.items()} }; process restarts "
            f"{dict(supervisor.restarts)}; repeated e-mails {report['repeated_mails']}"
        )
    finally:
        for part in (prober, gateway, supervisor):
            if part is not None:
                part.stop()
        server.destroy()  # and the installation's database with it
