"""The Redis task queue (EPOLICY_TASK_QUEUE_URL, django-tasks' RQ backend) with two workers in separate
processes taking jobs from one queue: every job runs, none twice, both workers take some, a deferred job
(`run_after`, as the sandbox gateway's redelivery uses) runs when due, and a platform task runs there.

Needs Redis at EPOLICY_TEST_REDIS_URL (default redis://127.0.0.1:6379); the test uses one numbered Redis
database of its own and empties it before and after.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EPOLICY = str(Path(sys.executable).parent / "epolicy")
REDIS = os.environ.get("EPOLICY_TEST_REDIS_URL", "redis://127.0.0.1:6379")
JOBS = 30
DEADLINE_SECONDS = 120


@pytest.fixture
def queue_env(tmp_path):
    redis = pytest.importorskip("redis")
    url = f"{REDIS.rstrip('/')}/{random.randint(8, 15)}"
    conn = redis.Redis.from_url(url)
    try:
        conn.ping()
    except redis.exceptions.ConnectionError:
        pytest.skip(f"no Redis at {REDIS} (set EPOLICY_TEST_REDIS_URL)")
    conn.flushdb()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("EPOLICY_", "DJANGO_"))},
        "EPOLICY_VAR_DIR": str(tmp_path / "var"),
        "EPOLICY_DATABASE_URL": f"sqlite:///{tmp_path / 'epolicy.sqlite3'}",
        "EPOLICY_TASK_QUEUE_URL": url,
        "PYTHONPATH": str(ROOT),  # the probe task lives in tests/
    }
    (tmp_path / "var").mkdir()
    subprocess.run([EPOLICY, "migrate", "--no-input", "-v", "0"], env=env, check=True, timeout=300)
    yield env
    conn.flushdb()


def _run(env: dict[str, str], code: str) -> str:
    return subprocess.run(
        [EPOLICY, "shell", "--no-imports", "-c", code],
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout


def _workers(env: dict[str, str], tmp_path: Path) -> list[subprocess.Popen]:
    return [
        subprocess.Popen(
            [EPOLICY, "rqworker", "--job-class", "django_tasks_rq.Job", "--with-scheduler", "default"],
            env=env,
            stdout=(tmp_path / f"worker{i}.log").open("wb"),
            stderr=subprocess.STDOUT,
        )
        for i in range(2)
    ]


def test_two_workers_share_one_queue_and_run_every_job_once(queue_env, tmp_path):
    out = tmp_path / "runs.txt"
    # Enqueued before the workers start, so both find a full queue.
    printed = _run(
        queue_env,
        "from django_tasks import task_backends\n"
        "from tests.ops.rq_probe import probe_task\n"
        f"for n in range({JOBS}): probe_task.enqueue({str(out)!r}, n)\n"
        "print(type(task_backends['default']).__name__)\n",
    )
    assert printed.strip() == "RQBackend"
    workers = _workers(queue_env, tmp_path)
    try:
        deadline = time.monotonic() + DEADLINE_SECONDS
        while (not out.exists() or len(out.read_text().splitlines()) < JOBS) and time.monotonic() < deadline:
            for w in workers:
                assert w.poll() is None, (tmp_path / "worker0.log").read_text() + (
                    tmp_path / "worker1.log"
                ).read_text()
            time.sleep(0.2)
        time.sleep(1)  # a job run twice would show up now
        runs = [line.split() for line in out.read_text().splitlines()]
    finally:
        for w in workers:
            w.terminate()
        for w in workers:
            w.wait(timeout=30)
    counts = Counter(int(n) for n, _, _ in runs)
    assert sorted(counts) == list(range(JOBS)), "every job ran"
    assert max(counts.values()) == 1, [n for n, c in counts.items() if c > 1]
    by_worker = Counter(pid for _, pid, _ in runs)
    assert len(by_worker) == 2 and min(by_worker.values()) >= 3, by_worker
    assert {int(pid) for pid in by_worker} <= {w.pid for w in workers}, by_worker


def test_deferred_and_platform_tasks_run_on_the_redis_queue(queue_env, tmp_path):
    out = tmp_path / "runs.txt"
    due = float(
        _run(
            queue_env,
            "import datetime as dt\n"
            "from django.utils import timezone\n"
            "from tests.ops.rq_probe import probe_task\n"
            "from epolicy.common.tasks import envelope_nonce_purge_task\n"
            "due = timezone.now() + dt.timedelta(seconds=3)\n"
            f"probe_task.using(run_after=due).enqueue({str(out)!r}, 1)\n"
            f"probe_task.enqueue({str(out)!r}, 0)\n"
            "envelope_nonce_purge_task.enqueue()\n"
            "print(due.timestamp())\n",
        )
    )
    started = time.monotonic()
    workers = _workers(queue_env, tmp_path)
    try:
        deadline = started + DEADLINE_SECONDS
        while (not out.exists() or len(out.read_text().splitlines()) < 2) and time.monotonic() < deadline:
            time.sleep(0.2)
        runs = [line.split() for line in out.read_text().splitlines()]
        purge = _run(
            queue_env,
            "from django_rq import get_queue\n"
            "q = get_queue('default')\n"
            "from rq.registry import FinishedJobRegistry, FailedJobRegistry\n"
            "print(len(FinishedJobRegistry(queue=q)), len(FailedJobRegistry(queue=q)))\n",
        )
    finally:
        for w in workers:
            w.terminate()
        for w in workers:
            w.wait(timeout=30)
    assert [int(n) for n, _, _ in runs] == [0, 1], "the deferred job ran after the one due at once"
    ran_at = float(runs[1][2])
    # Not before the second it was given: RQ keeps a deferred job's due time in whole seconds (the fraction
    # is dropped), so it may run up to a second early; 0.1 s more for the clocks of three processes.
    assert ran_at >= int(due) - 0.1, (ran_at, due)
    finished, failed = (int(x) for x in purge.split())
    assert failed == 0 and finished == 3, purge
