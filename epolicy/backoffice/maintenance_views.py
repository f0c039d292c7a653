"""Staff console: announced maintenance windows of online self-service changes (life guide §7.1).

Thin like the rest of the console: parse the form, call epolicy.ops.maintenance, render. A refusal shows
its coded Chinese message (`error`, data-code) above the page, with the form as it was filled in.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from epolicy.common import clock
from epolicy.common.errors import ApplicationError
from epolicy.ops import maintenance
from epolicy.ops.models import MaintenanceWindow
from epolicy.portal.views import page

from .views import staff_member_required

_INPUT_FORMAT = "%Y-%m-%dT%H:%M"  # <input type="datetime-local">


def _actor(request: HttpRequest) -> str:
    return f"staff:{request.user.get_username()}"


def _parse_local(raw: str, *, field: str, label: str) -> dt.datetime:
    """A datetime-local value, read as Shanghai time."""
    try:
        value = dt.datetime.fromisoformat(raw.strip())
    except ValueError:
        raise ApplicationError(
            "validation_error", f"请选择{label}（年-月-日 时:分）。", {"field": field}
        ) from None
    if value.tzinfo is not None:
        return value
    return value.replace(tzinfo=clock.SHANGHAI)


def _input_value(moment: dt.datetime) -> str:
    return clock.local(moment).strftime(_INPUT_FORMAT)


def _context(*, form: dict[str, str] | None = None, cancelling: str = "") -> dict[str, Any]:
    now = clock.now()
    rules = maintenance.maintenance_rules()
    bounds: maintenance.NoticeBounds | None
    try:
        bounds = maintenance.maintenance_notice_bounds(now)
        bounds_error = None
    except ApplicationError as exc:
        bounds, bounds_error = None, exc
    windows = MaintenanceWindow.objects.order_by("starts_at")
    live = windows.filter(cancelled_at__isnull=True, ends_at__gt=now)
    defaults = {"scope": maintenance.SCOPE_LIFE_SELF_SERVICE, "starts_at": "", "ends_at": "", "reason": ""}
    return {
        "rules": rules,
        "bounds": bounds,
        "bounds_error": bounds_error,
        "bounds_min": _input_value(bounds.earliest_start) if bounds else "",
        "bounds_max": _input_value(bounds.latest_start) if bounds else "",
        "min_notice": maintenance.MIN_NOTICE_WORKING_DAYS,
        "max_notice": maintenance.MAX_NOTICE_WORKING_DAYS,
        "today": clock.local(now).date(),
        "today_is_working_day": _working_day_or_none(clock.local(now).date()),
        "current": list(live.filter(starts_at__lte=now)),
        "upcoming": list(live.filter(starts_at__gt=now)),
        "past": list(
            MaintenanceWindow.objects.exclude(cancelled_at__isnull=True, ends_at__gt=now).order_by(
                "-starts_at"
            )[:50]
        ),
        "scopes": MaintenanceWindow.Scope.choices,
        "form": {**defaults, **(form or {})},
        "cancelling": cancelling,
    }


def _working_day_or_none(day: dt.date) -> bool | None:
    try:
        return maintenance.is_working_day(day)
    except ApplicationError:
        return None


@staff_member_required
def maintenance_windows(request: HttpRequest) -> HttpResponse:
    return page(request, "backoffice/maintenance.html", _context())


@require_POST
@staff_member_required
def maintenance_schedule(request: HttpRequest) -> HttpResponse:
    form = {k: request.POST.get(k, "") for k in ("scope", "starts_at", "ends_at", "reason")}
    try:
        window = maintenance.maintenance_window_schedule(
            starts_at=_parse_local(form["starts_at"], field="starts_at", label="开始时间"),
            ends_at=_parse_local(form["ends_at"], field="ends_at", label="结束时间"),
            reason=form["reason"],
            actor=_actor(request),
            scope=_scope(form["scope"]),
        )
    except ApplicationError as exc:
        return page(
            request, "backoffice/maintenance.html", {**_context(form=form), "error": exc}, status=exc.status
        )
    messages.success(
        request,
        f"已安排并向客户公告：{maintenance.local_text(window.starts_at)} 至 "
        f"{maintenance.local_text(window.ends_at)} 停机维护（提前 {window.notice_working_days} 个工作日）。",
    )
    return HttpResponseRedirect(reverse("backoffice:maintenance"))


def _scope(raw: str) -> str:
    if raw not in MaintenanceWindow.Scope.values:
        raise ApplicationError("validation_error", "请选择维护影响的服务范围。", {"field": "scope"})
    return raw


@require_POST
@staff_member_required
def maintenance_cancel(request: HttpRequest, window_id: int) -> HttpResponse:
    try:
        window = maintenance.maintenance_window_cancel(
            window_id=window_id, actor=_actor(request), reason=request.POST.get("reason", "")
        )
    except ApplicationError as exc:
        context = {**_context(cancelling=str(window_id)), "error": exc}
        return page(request, "backoffice/maintenance.html", context, status=exc.status)
    messages.success(
        request,
        f"已取消 {maintenance.local_text(window.starts_at)} 开始的停机维护，客户页面的公告随即撤下。",
    )
    return HttpResponseRedirect(reverse("backoffice:maintenance"))
