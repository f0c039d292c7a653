"""kill -9 under concurrent load, on the production web server: gunicorn (a master and three worker
processes), two task workers (`epolicy db_worker`) and the scheduler, while eight gateway threads deliver
the signed payment notifications of many applications at once.

Two kinds of kills run together:
- named crash points (epolicy.common.failpoints), each once, in whichever process reaches it first: a
  gunicorn worker inside the payment transaction and after its commit before the answer, a task worker
  after sealing before the issuance commit, after a job's work before it is marked done, before an
  e-mail is sent;
- SIGKILL at random moments: every 1–3 s one process chosen at random (a gunicorn worker, the gunicorn
  master with its workers, either task worker, the scheduler), for as long as applications are still
  being paid or issued (up to KILL_WINDOW_SECONDS).

gunicorn's master replaces a killed worker; the supervisor here restarts whatever else dies. Afterwards
every application has exactly one policy, archived in both copies, one e-mail; no outbox job is open;
the audit chain verifies. The whole scenario has DEADLINE_SECONDS from the first delivery.
"""

from __future__ import annotations

import os
import random
import signal
import threading
import time
from collections import Counter

import pytest

from ._installation import (
    GUNICORN,
    Database,
    Gateway,
    Supervisor,
    all_issued,
    check_invariants,
    deadline_message,
    free_port,
    installation_env,
    production_tier,
    set_up,
)

APPLICATIONS = 30
GATEWAY_THREADS = 8
DEADLINE_SECONDS = 240
KILL_WINDOW_SECONDS = 60
KILL_PAUSE_SECONDS = (1.0, 3.0)

FAILPOINTS = {
    "payment.notify.before_commit": "kill",  # a gunicorn worker, inside the payment transaction
    "payment.notify.after_commit": "kill",  # committed, the gateway never got its answer
    "policy.issue.before_commit": "kill",  # a task worker: sealed and stored, not committed
    "outbox.after_handler": "kill",  # committed, the job not marked done (lease takeover)
    "notification.email.before_send": "kill",  # the e-mail's delivery job dies before sending
}

pytestmark = [
    pytest.mark.crash,
    pytest.mark.skipif(not os.path.exists(GUNICORN), reason="gunicorn is not installed in this venv"),
]


class RandomKiller:
    """Every 1–3 s, SIGKILL to one process of the installation chosen at random."""

    def __init__(self, supervisor: Supervisor, seed: int):
        self.supervisor = supervisor
        self.random = random.Random(seed)
        self.kills: Counter[str] = Counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.wait(self.random.uniform(*KILL_PAUSE_SECONDS)):
            victim = self.random.choice(
                ["web worker", "web worker", "web master", "worker-1", "worker-2", "scheduler"]
            )
            with self.supervisor.lock:
                if victim == "web worker":
                    pids = self.supervisor.children("web")
                    if not pids:
                        continue
                    pid = self.random.choice(pids)
                else:
                    pid = self.supervisor.procs["web" if victim == "web master" else victim].pid
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    continue
            self.kills[victim] += 1


def test_kill_9_at_random_under_concurrent_payments(tmp_path):
    home = tmp_path
    db = Database(home)
    port = free_port()
    env = installation_env(home, db, port)
    seed = int(os.environ.get("EPOLICY_CRASH_SEED", str(random.randrange(1 << 30))))
    supervisor = killer = gateway = None
    try:
        prepare_started = time.monotonic()
        notifications = set_up(env, APPLICATIONS)
        prepare_seconds = time.monotonic() - prepare_started

        fired = home / "failpoints"
        fired.mkdir()
        crash_env = {
            **env,
            "EPOLICY_FAILPOINTS": ",".join(f"{k}={v}" for k, v in FAILPOINTS.items()),
            "EPOLICY_FAILPOINT_DIR": str(fired),
        }
        supervisor = Supervisor(
            crash_env,
            home,
            production_tier(port),
        )
        supervisor.start_all()
        supervisor.wait_listening(port)

        gateway = Gateway(notifications, threads=GATEWAY_THREADS)
        killer = RandomKiller(supervisor, seed)
        started = time.monotonic()
        gateway.start()
        killer.start()
        done = False
        while time.monotonic() - started < DEADLINE_SECONDS:
            supervisor.tend()
            if killer is not None and time.monotonic() - started > KILL_WINDOW_SECONDS:
                killer.stop()
            if gateway.done and all_issued(db, APPLICATIONS):
                done = True
                break
            time.sleep(0.5)
        elapsed = time.monotonic() - started
        killer.stop()
        gateway.stop()
        supervisor.stop()
        assert done, deadline_message(
            f"{APPLICATIONS} applications paid and issued (seed {seed})",
            DEADLINE_SECONDS,
            db,
            home,
            {"acknowledged": len(gateway.acknowledged), "kills": dict(killer.kills)},
        )
        # Every named crash point was reached and fired.
        assert sorted(p.name for p in fired.iterdir()) == sorted(FAILPOINTS)
        random_worker_kills = killer.kills["worker-1"] + killer.kills["worker-2"]
        report = check_invariants(
            env, APPLICATIONS, repeated_mails_allowed=random_worker_kills + killer.kills["scheduler"]
        )
        print(
            f"\nload+kill ({db.engine}, seed {seed}): {APPLICATIONS} applications prepared in "
            f"{prepare_seconds:.1f} s; all acknowledged and issued {elapsed:.1f} s after the first "
            f"delivery; random kills {dict(killer.kills)} (total {sum(killer.kills.values())}); "
            f"failpoints fired {len(FAILPOINTS)}; supervisor restarts {dict(supervisor.restarts)}; "
            f"gateway answers {dict(gateway.answers)}; repeated e-mails {report['repeated_mails']}"
        )
    finally:
        for part in (killer, gateway, supervisor):
            if part is not None:
                part.stop()
        db.drop()
