"""Staff console: side effects still owed after a commit (the outbox), with the alert and a retry."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from epolicy.common import clock
from epolicy.common.errors import ApplicationError
from epolicy.ops.models import OutboxJob
from epolicy.ops.outbox import KINDS, outbox_retry_now, stuck_jobs
from epolicy.portal.views import page

from .views import staff_member_required


def _rows(jobs: list[OutboxJob], stuck_ids: set[int]) -> list[dict]:
    now = clock.now()
    return [
        {
            "job": job,
            "label": KINDS[job.kind].label_zh if job.kind in KINDS else job.kind,
            "retry_label": KINDS[job.kind].retry_label_zh if job.kind in KINDS else "重试",
            "stuck": job.pk in stuck_ids,
            "age_minutes": int((now - job.created_at).total_seconds() // 60),
        }
        for job in jobs
    ]


@staff_member_required
def outbox_jobs(request: HttpRequest) -> HttpResponse:
    stuck_ids = set(stuck_jobs().values_list("pk", flat=True))
    open_jobs = list(OutboxJob.objects.exclude(status=OutboxJob.Status.DONE).order_by("created_at")[:500])
    recent = list(OutboxJob.objects.filter(status=OutboxJob.Status.DONE).order_by("-done_at")[:50])
    return page(
        request,
        "backoffice/outbox.html",
        {
            "open_rows": _rows(open_jobs, stuck_ids),
            "done_rows": _rows(recent, set()),
            "stuck_count": len(stuck_ids),
        },
    )


@require_POST
@staff_member_required
def outbox_retry(request: HttpRequest, job_id: int) -> HttpResponse:
    try:
        job = outbox_retry_now(job_id=job_id, actor=f"staff:{request.user.get_username()}")
    except ApplicationError as exc:
        messages.error(request, exc.message_zh)
    else:
        job.refresh_from_db()
        outcome = "已完成" if job.status == OutboxJob.Status.DONE else "已提交重试，请稍后刷新查看结果"
        messages.success(request, f"{KINDS[job.kind].label_zh} {job.reference or job.subject}：{outcome}。")
    return HttpResponseRedirect(reverse("backoffice:outbox"))


def console_alerts(request: HttpRequest) -> dict:
    """Context processor: the count of stuck side effects, for the banner on every console page."""
    if not request.path_info.startswith("/console/") or not getattr(request.user, "is_staff", False):
        return {}
    return {"outbox_stuck_count": stuck_jobs().count()}
