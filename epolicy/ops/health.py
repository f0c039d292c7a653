"""Health and readiness (docs/operations.md#health-and-readiness).

`/ops/health` is liveness: the process answers, nothing else is touched. `/ops/ready` runs every
registered check and answers 200 when none fails, 503 naming the failing ones otherwise.

ops sits low in the layers, so the checks are a registry: this module registers the ones it can make
itself (database, cache, task queue, outbox) and each higher app registers its own from its
AppConfig.ready() — `register("archive", fn)`. A check returns `ok(...)`, `warn(...)` (ready, but an
operator should look: a certificate near expiry, a long queue) or `fail(...)`, or raises (a failure;
only the exception's class or error code is shown). Details say only what an operator needs: no secret,
no path with credentials, no personal data.

Each check is bounded in time: checks that do not touch the database (cache, storage, a remote queue)
run on a small thread pool and are abandoned after their timeout; checks that read the database run in
the request's thread inside a transaction with PostgreSQL's `statement_timeout`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from django.conf import settings
from django.db import connection, transaction

OK, WARN, FAIL = "ok", "warn", "fail"


@dataclasses.dataclass(frozen=True)
class Outcome:
    status: str
    detail: dict[str, Any] = dataclasses.field(default_factory=dict)


def ok(**detail: Any) -> Outcome:
    return Outcome(OK, detail)


def warn(**detail: Any) -> Outcome:
    return Outcome(WARN, detail)


def fail(**detail: Any) -> Outcome:
    return Outcome(FAIL, detail)


@dataclasses.dataclass(frozen=True)
class Check:
    name: str
    fn: Callable[[], Outcome | None]
    uses_database: bool
    timeout: float | None  # None: settings.OPS_HEALTH["check_timeout_seconds"]


_checks: dict[str, Check] = {}
_lock = threading.Lock()


def register(
    name: str, fn: Callable[[], Outcome | None], *, uses_database: bool = True, timeout: float | None = None
) -> None:
    """Add (or replace) the readiness check `name`. `uses_database=False` runs it on the thread pool."""
    with _lock:
        _checks[name] = Check(name, fn, uses_database, timeout)


def unregister(name: str) -> None:
    with _lock:
        _checks.pop(name, None)


def registered() -> list[str]:
    return sorted(_checks)


def _settings() -> dict[str, Any]:
    defaults: dict[str, Any] = {
        "check_timeout_seconds": 3.0,
        "task_queue_warn_jobs": 100,
        "task_queue_warn_age_seconds": 300.0,
    }
    return {**defaults, **getattr(settings, "OPS_HEALTH", {})}


@dataclasses.dataclass(frozen=True)
class Report:
    checks: dict[str, dict[str, Any]]

    @property
    def status(self) -> str:
        states = {c["status"] for c in self.checks.values()}
        return FAIL if FAIL in states else WARN if WARN in states else OK

    @property
    def failing(self) -> list[str]:
        return sorted(name for name, c in self.checks.items() if c["status"] == FAIL)

    def as_json(self) -> dict[str, Any]:
        return {"status": self.status, "checks": self.checks}


# A few threads for checks that wait on the network; a check stuck past its timeout keeps its thread
# until it returns, and later checks time out too (reported as failures) rather than pile up threads.
_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="ops-health")


def _error_of(exc: BaseException) -> str:
    code = getattr(exc, "code", None)
    return str(code) if isinstance(code, str) and code else exc.__class__.__name__


def _run_one(check: Check) -> Outcome:
    try:
        return check.fn() or ok()
    except Exception as exc:  # any failure of a dependency is a failed check, never a 500
        return fail(error=_error_of(exc))


def _timed(check: Check) -> tuple[Outcome, float]:
    """The check's outcome and how long it took itself (started where it runs, in its own thread)."""
    t0 = time.monotonic()
    outcome = _run_one(check)
    return outcome, time.monotonic() - t0


def _run_in_database(check: Check, timeout: float) -> Outcome:
    try:
        if connection.vendor == "sqlite":
            return _run_on_sqlite(check, timeout)
        with transaction.atomic():
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute("SET LOCAL statement_timeout = %s", [int(timeout * 1000)])
            outcome = _run_one(check)
            if outcome.status == FAIL:
                transaction.set_rollback(True)
            return outcome
    except Exception as exc:
        return fail(error=_error_of(exc))


def _run_on_sqlite(check: Check, timeout: float) -> Outcome:
    """The checks only read. On SQLite a transaction begins IMMEDIATE (config/settings.py), taking the
    write lock, and waits up to the connection's 20 s for a writer to let go: outside a transaction each
    read sees the last commit without waiting (WAL), and any lock wait is cut to the check's limit."""
    if connection.in_atomic_block:  # called inside a transaction (a test): run as it is
        return _run_one(check)
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA busy_timeout")
        (previous,) = cursor.fetchone()
        cursor.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
    try:
        return _run_one(check)
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA busy_timeout = {int(previous)}")


def run_checks(names: list[str] | None = None) -> Report:
    """Run the registered checks (or those named); each result has status, detail and milliseconds."""
    cfg = _settings()
    with _lock:
        checks = [c for n, c in sorted(_checks.items()) if names is None or n in names]
    results: dict[str, dict[str, Any]] = {}
    started = time.monotonic()
    futures = {
        c.name: (_pool.submit(_timed, c), c) for c in checks if not c.uses_database
    }  # network checks start at once, in parallel with the database ones
    for c in checks:
        if c.uses_database:
            t0 = time.monotonic()
            outcome = _run_in_database(c, float(c.timeout or cfg["check_timeout_seconds"]))
            results[c.name] = _result(outcome, time.monotonic() - t0)
    for name, (future, c) in futures.items():
        timeout = float(c.timeout or cfg["check_timeout_seconds"])
        left = max(timeout - (time.monotonic() - started), 0.0)
        try:
            outcome, took = future.result(timeout=left)
        except FutureTimeout:
            outcome, took = fail(error="timeout", timeout_seconds=timeout), time.monotonic() - started
        results[name] = _result(outcome, took)
    return Report({name: results[name] for name in sorted(results)})


def _result(outcome: Outcome, seconds: float) -> dict[str, Any]:
    return {"status": outcome.status, **outcome.detail, "ms": round(seconds * 1000, 1)}


# --- the checks ops makes itself ------------------------------------------------------------------------
def check_database() -> Outcome:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return ok(vendor=connection.vendor)


def check_cache() -> Outcome:
    import secrets

    from django.core.cache import cache

    key = f"ops-ready-probe:{secrets.token_hex(8)}"
    value = secrets.token_hex(8)
    cache.set(key, value, timeout=30)
    read = cache.get(key)
    cache.delete(key)
    if read != value:
        return fail(error="value_not_read_back")
    return ok()


@dataclasses.dataclass(frozen=True)
class QueueDepth:
    queue: str  # "tasks" (the task backend) or "outbox"
    backend: str
    waiting: int  # due and not started
    oldest_age_seconds: float  # how long the oldest waiting one has been due; 0 when none waits


def task_queue_depth(now: dt.datetime | None = None) -> QueueDepth:
    """Jobs waiting for a worker on the task backend, and how long the oldest has been due."""
    from django.utils import timezone

    now = now or timezone.now()
    backend_path = str(settings.TASKS["default"]["BACKEND"])
    if backend_path.endswith("DatabaseBackend"):
        from django.db.models import Count, Min
        from django_tasks_db.models import DBTaskResult, get_date_max

        ready = DBTaskResult.objects.ready()
        agg = ready.aggregate(
            n=Count("pk"),
            enqueued=Min("enqueued_at", filter=_q(run_after=get_date_max())),
            deferred=Min("run_after", filter=~_q(run_after=get_date_max())),
        )
        oldest = min((t for t in (agg["enqueued"], agg["deferred"]) if t is not None), default=None)
        return QueueDepth("tasks", "database", int(agg["n"] or 0), _age(oldest, now))
    if backend_path.endswith("RQBackend"):
        import django_rq
        from rq.job import Job

        queue = django_rq.get_queue("default")
        waiting = queue.count
        oldest = None
        ids = queue.get_job_ids(0, 0)
        if ids:
            job = Job.fetch(ids[0], connection=queue.connection)
            oldest = job.enqueued_at
            if oldest is not None and oldest.tzinfo is None:
                oldest = oldest.replace(tzinfo=dt.UTC)
        return QueueDepth("tasks", "rq", int(waiting), _age(oldest, now))
    # The immediate backend runs each task where it is enqueued: nothing ever waits.
    return QueueDepth("tasks", backend_path.rsplit(".", 1)[-1], 0, 0.0)


def outbox_depth(now: dt.datetime | None = None) -> QueueDepth:
    """Outbox jobs due and not running, and how long the oldest has been due."""
    from django.db.models import Count, Min

    from epolicy.common import clock

    from .models import OutboxJob

    now = now or clock.now()
    agg = OutboxJob.objects.filter(status=OutboxJob.Status.PENDING, next_attempt_at__lte=now).aggregate(
        n=Count("pk"), oldest=Min("next_attempt_at")
    )
    return QueueDepth("outbox", "database", int(agg["n"] or 0), _age(agg["oldest"], now))


def _q(**kwargs: Any) -> Any:
    from django.db.models import Q

    return Q(**kwargs)


def _age(oldest: dt.datetime | None, now: dt.datetime) -> float:
    if oldest is None:
        return 0.0
    return max((now - oldest).total_seconds(), 0.0)


def _queue_outcome(depth: QueueDepth) -> Outcome:
    cfg = _settings()
    detail = {
        "backend": depth.backend,
        "waiting": depth.waiting,
        "oldest_age_seconds": round(depth.oldest_age_seconds, 1),
    }
    if depth.waiting > int(cfg["task_queue_warn_jobs"]) or depth.oldest_age_seconds > float(
        cfg["task_queue_warn_age_seconds"]
    ):
        return warn(
            **detail,
            warn_jobs=cfg["task_queue_warn_jobs"],
            warn_age_seconds=cfg["task_queue_warn_age_seconds"],
        )
    return ok(**detail)


def check_task_queue() -> Outcome:
    return _queue_outcome(task_queue_depth())


def check_outbox() -> Outcome:
    return _queue_outcome(outbox_depth())


def register_builtin() -> None:
    register("database", check_database)
    register("cache", check_cache, uses_database=False)
    # The RQ queue lives in Redis: the pool bounds it; the database queue is read like any table.
    rq = str(settings.TASKS["default"]["BACKEND"]).endswith("RQBackend")
    register("task_queue", check_task_queue, uses_database=not rq)
    register("outbox", check_outbox)
