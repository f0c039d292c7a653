"""The outbox: side effects that must follow a commit, done at least once whatever crashes.

A service that commits a change calling for a side effect (a paid application needs its policy, an
issued policy its e-mail, a refused payment its refund, an archived object its second copy) calls
`outbox_enqueue` inside its own transaction: the job row commits with the change or not at all. After
the commit a task is queued to run it at once (the fast path). Whatever happens next — the process is
killed before the task is queued, the worker dies mid-job, the handler fails — the row stays until a
run finishes it:

- `outbox_run` claims a due job with a lease (a compare-and-set UPDATE, so two workers never run it at
  once), calls its handler, and marks it done; a failure schedules the next attempt with back-off.
- `outbox_sweep` (the scheduler calls it every few seconds) dispatches due jobs again, takes over jobs
  whose lease ran out (their worker died), and raises an alert (log + console) for jobs that are stuck.

Handlers take the job's subject (an id), are idempotent, and raise to ask for a retry. They are named
by dotted path below, so this module imports no domain code.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import secrets
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils.module_loading import import_string

from epolicy.common import clock
from epolicy.common.failpoints import failpoint
from epolicy.common.requestid import bound, current_request_id

from .models import OutboxJob

log = logging.getLogger("epolicy.outbox")


@dataclasses.dataclass(frozen=True)
class Kind:
    handler: str  # dotted path of a callable taking the subject (str)
    label_zh: str  # what the console calls it
    retry_label_zh: str  # the console's button
    # Dotted path of a callable (now) -> int that asks again for effects a commit called for but that
    # have no job (rows written before the outbox existed, or by a path that forgot): the safety net.
    rearm: str = ""


ISSUE_POLICY = "policy.issue"
EMAIL_POLICY = "policy.email"
REFUND_PAYMENT = "payment.refund"
REFUND_PART = "payment.refund_part"
APPLY_ENDORSEMENT = "endorsement.apply"
REPLICATE_ARCHIVE = "archive.replicate"
PURGE_ARCHIVE = "archive.purge"
# One job per delivery of a notification (epolicy.notifications), by channel.
NOTIFY_SMS = "notification.sms"
NOTIFY_EMAIL = "notification.email"
NOTIFY_WECHAT = "notification.wechat"

KINDS: dict[str, Kind] = {
    ISSUE_POLICY: Kind(
        "epolicy.motor.jobs.issue_policy",
        "缴费后出具电子保单",
        "重新出单",
        rearm="epolicy.motor.jobs.rearm_unissued",
    ),
    EMAIL_POLICY: Kind(
        "epolicy.policies.jobs.email_policy",
        "发送电子保单邮件",
        "重新发送",
        rearm="epolicy.policies.jobs.rearm_unmailed",
    ),
    REFUND_PAYMENT: Kind(
        "epolicy.payments.jobs.refund_payment",
        "原路退款",
        "重新退款",
        rearm="epolicy.payments.jobs.rearm_unrefunded",
    ),
    REFUND_PART: Kind(
        "epolicy.payments.jobs.send_refund",
        "退保等批改的原路退款",
        "重新退款",
        rearm="epolicy.payments.jobs.rearm_unsent_refunds",
    ),
    APPLY_ENDORSEMENT: Kind(
        "epolicy.motor.endorsements.jobs.apply_endorsement",
        "缴费后批改生效",
        "重新生效",
        rearm="epolicy.motor.endorsements.jobs.rearm_unapplied",
    ),
    REPLICATE_ARCHIVE: Kind(
        "epolicy.archive.jobs.replicate_object",
        "写入影像第二副本",
        "重新复制",
        rearm="epolicy.archive.jobs.rearm_unreplicated",
    ),
    PURGE_ARCHIVE: Kind(
        "epolicy.archive.jobs.purge_object",
        "清除已批准删除的影像",
        "重新清除",
        rearm="epolicy.archive.jobs.rearm_unpurged",
    ),
    NOTIFY_SMS: Kind(
        "epolicy.notifications.jobs.deliver",
        "发送短信通知",
        "重新发送",
        rearm="epolicy.notifications.jobs.rearm_sms",
    ),
    NOTIFY_EMAIL: Kind(
        "epolicy.notifications.jobs.deliver",
        "发送邮件通知",
        "重新发送",
        rearm="epolicy.notifications.jobs.rearm_email",
    ),
    NOTIFY_WECHAT: Kind(
        "epolicy.notifications.jobs.deliver",
        "发送微信通知",
        "重新发送",
        rearm="epolicy.notifications.jobs.rearm_wechat",
    ),
}


@dataclasses.dataclass(frozen=True)
class Timing:
    """Timing of the outbox (settings.OUTBOX overrides each figure)."""

    lease_seconds: float = 300.0  # a job running longer than this is taken to be dead
    retry_base_seconds: float = 30.0  # first retry after this; doubles each time
    retry_max_seconds: float = 3600.0
    alert_after_attempts: int = 3
    alert_after_seconds: float = 600.0  # not done this long after it was asked for: stuck
    sweep_batch: int = 200

    @classmethod
    def current(cls) -> Timing:
        return dataclasses.replace(cls(), **getattr(settings, "OUTBOX", {}))

    def backoff(self, attempts: int) -> dt.timedelta:
        """Delay before the next attempt after `attempts` failed ones: exponential, capped, jittered."""
        base = min(self.retry_base_seconds * 2 ** max(attempts - 1, 0), self.retry_max_seconds)
        # Up to 20% earlier, so jobs that failed together do not all come back together.
        return dt.timedelta(seconds=base * (0.8 + 0.2 * secrets.SystemRandom().random()))


# --- asking for an effect --------------------------------------------------------------------------------
def outbox_enqueue(*, kind: str, subject: int | str, reference: str = "", reopen: bool = False) -> OutboxJob:
    """Ask for `kind` on `subject` in the caller's transaction; run it once that commits.

    Idempotent: an existing job for the same effect is re-armed (due now) unless it is done; with
    `reopen` a done job is opened again (the effect is known to be missing after all).
    """
    if kind not in KINDS:
        raise ValueError(f"unknown outbox kind {kind!r}")
    now = clock.now()
    request_id = current_request_id()
    with transaction.atomic():
        job, created = OutboxJob.objects.get_or_create(
            kind=kind,
            subject=str(subject),
            defaults={
                "reference": reference[:64],
                "next_attempt_at": now,
                "created_at": now,
                "request_id": request_id,
            },
        )
        if (
            not created
            and request_id
            and job.request_id != request_id
            and (job.status != OutboxJob.Status.DONE or reopen)
        ):
            # The latest request that asked for the effect is the one its next run is logged under.
            OutboxJob.objects.filter(pk=job.pk).update(request_id=request_id)
            job.request_id = request_id
        if not created and job.status == OutboxJob.Status.DONE and reopen:
            OutboxJob.objects.filter(pk=job.pk).update(
                status=OutboxJob.Status.PENDING, next_attempt_at=now, done_at=None, alerted_at=None
            )
            job.status = OutboxJob.Status.PENDING
        elif not created and job.status != OutboxJob.Status.DONE and job.next_attempt_at > now:
            OutboxJob.objects.filter(pk=job.pk).update(next_attempt_at=now)
    if job.status != OutboxJob.Status.DONE:
        job_id = job.pk
        transaction.on_commit(lambda: _dispatch(job_id))
    return job


def _dispatch(job_id: int) -> None:
    """Queue a run of the job on the task backend (the immediate backend runs it here and now)."""
    from .tasks import outbox_run_task

    OutboxJob.objects.filter(pk=job_id).update(dispatched_at=clock.now())
    try:
        outbox_run_task.enqueue(job_id)
    except Exception:
        # The job row is safe; the sweep dispatches it again.
        log.exception("outbox: could not queue job %s; the sweep will", job_id)


# --- running -----------------------------------------------------------------------------------------------
def outbox_run(job_id: int, *, handler: Callable[[str], Any] | None = None) -> str:
    """Claim the job if it is due and free, run its handler, record the outcome.

    Returns "done", "retry" (the handler failed; the next attempt is scheduled) or "skipped" (not due,
    already done, or another worker holds a live lease).
    """
    timing = Timing.current()
    now = clock.now()
    token = secrets.token_hex(16)
    claimed = (
        OutboxJob.objects.filter(pk=job_id, next_attempt_at__lte=now)
        .exclude(status=OutboxJob.Status.DONE)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .update(
            status=OutboxJob.Status.RUNNING,
            lease_until=now + dt.timedelta(seconds=timing.lease_seconds),
            leased_by=token,
            attempts=F("attempts") + 1,
            dispatched_at=None,  # the queued run is this one: none is left waiting for a worker
        )
    )
    if not claimed:
        return "skipped"
    job = OutboxJob.objects.get(pk=job_id)
    # The handler's log records carry the id of the request that asked for the job.
    with bound(job.request_id):
        return _run_claimed(job, token, timing, handler)


def _run_claimed(job: OutboxJob, token: str, timing: Timing, handler: Callable[[str], Any] | None) -> str:
    job_id = job.pk
    attempts = job.attempts
    run = handler or import_string(KINDS[job.kind].handler)
    try:
        run(job.subject)
        failpoint("outbox.after_handler")
    except Exception as exc:
        delay = timing.backoff(attempts)
        log.warning(
            "outbox: %s %s attempt %d failed (%s); next attempt in %.0f s",
            job.kind,
            job.reference or job.subject,
            attempts,
            exc.__class__.__name__,
            delay.total_seconds(),
            exc_info=True,
        )
        OutboxJob.objects.filter(pk=job_id, leased_by=token).update(
            status=OutboxJob.Status.PENDING,
            lease_until=None,
            leased_by="",
            next_attempt_at=clock.now() + delay,
            last_error=_error_text(exc),
        )
        return "retry"
    OutboxJob.objects.filter(pk=job_id, leased_by=token).update(
        status=OutboxJob.Status.DONE, lease_until=None, leased_by="", done_at=clock.now(), last_error=""
    )
    return "done"


def _error_text(exc: BaseException) -> str:
    # Codes and class names only: an exception's message may carry personal data.
    code = getattr(exc, "code", None)
    return f"{exc.__class__.__name__}{f' ({code})' if code else ''}"[:300]


# --- the sweep ---------------------------------------------------------------------------------------------
@dataclasses.dataclass
class SweepReport:
    dispatched: int = 0
    taken_over: int = 0
    rearmed: int = 0
    alerted: int = 0


def _due(now: dt.datetime, timing: Timing) -> Q:
    lease = dt.timedelta(seconds=timing.lease_seconds)
    # Not dispatched lately: a queued run may still be waiting for a worker.
    quiet = Q(dispatched_at__isnull=True) | Q(dispatched_at__lt=now - lease)
    pending_due = Q(status=OutboxJob.Status.PENDING, next_attempt_at__lte=now) & quiet
    dead_lease = Q(status=OutboxJob.Status.RUNNING, lease_until__lt=now)
    return pending_due | dead_lease


def outbox_sweep(*, now: dt.datetime | None = None) -> SweepReport:
    """Re-arm missing jobs, dispatch due ones, take over dead leases, and alert on stuck ones."""
    timing = Timing.current()
    now = now or clock.now()
    report = SweepReport()
    for kind in KINDS.values():
        if kind.rearm:
            try:
                report.rearmed += import_string(kind.rearm)(now=now)
            except Exception:
                log.exception("outbox: re-arming with %s failed", kind.rearm)
    for job in OutboxJob.objects.filter(_due(now, timing)).order_by("next_attempt_at")[: timing.sweep_batch]:
        if job.status == OutboxJob.Status.RUNNING:
            log.warning(
                "outbox: %s %s lost its worker; taking it over", job.kind, job.reference or job.subject
            )
            OutboxJob.objects.filter(pk=job.pk, leased_by=job.leased_by, lease_until__lt=now).update(
                status=OutboxJob.Status.PENDING, lease_until=None, leased_by="", next_attempt_at=now
            )
            report.taken_over += 1
        _dispatch(job.pk)
        report.dispatched += 1
    for job in stuck_jobs(now=now).filter(alerted_at__isnull=True):
        log.error(
            "outbox ALERT: %s %s not done after %d attempts since %s (last error: %s)",
            job.kind,
            job.reference or job.subject,
            job.attempts,
            job.created_at.isoformat(),
            job.last_error or "-",
        )
        OutboxJob.objects.filter(pk=job.pk).update(alerted_at=now)
        report.alerted += 1
    return report


def stuck_jobs(*, now: dt.datetime | None = None) -> Any:
    """Jobs not done after several attempts or long after they were asked for (the console's alert)."""
    timing = Timing.current()
    now = now or clock.now()
    return (
        OutboxJob.objects.exclude(status=OutboxJob.Status.DONE)
        .filter(
            Q(attempts__gte=timing.alert_after_attempts)
            | Q(created_at__lt=now - dt.timedelta(seconds=timing.alert_after_seconds))
        )
        .order_by("created_at")
    )


def outbox_retry_now(*, job_id: int, actor: str) -> OutboxJob:
    """Staff asks for another attempt at once (the console's re-issue action); recorded in the audit log."""
    from epolicy.audit.services import audit_record
    from epolicy.common.errors import ApplicationError

    now = clock.now()
    with transaction.atomic():
        job = OutboxJob.objects.select_for_update().filter(pk=job_id).first()
        if job is None:
            raise ApplicationError("not_found", "没有这项待办任务。")
        if job.status == OutboxJob.Status.DONE:
            raise ApplicationError("application_state", "该任务已经完成，无需重试。")
        if job.status == OutboxJob.Status.RUNNING and job.lease_until and job.lease_until > now:
            raise ApplicationError("application_state", "该任务正在执行，请稍后刷新查看结果。")
        job.status = OutboxJob.Status.PENDING
        job.next_attempt_at = now
        job.lease_until = None
        job.leased_by = ""
        job.alerted_at = None
        job.save(update_fields=["status", "next_attempt_at", "lease_until", "leased_by", "alerted_at"])
        audit_record(
            action="outbox.retry_requested",
            actor=actor,
            subject_type="outbox_job",
            subject_id=str(job.pk),
            data={"kind": job.kind, "reference": job.reference, "attempts": job.attempts},
        )
        transaction.on_commit(lambda: _dispatch(job_id))
    return job
