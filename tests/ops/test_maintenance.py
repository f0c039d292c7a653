"""Announced maintenance windows (life guide §7.1): length, off-peak hours, 1–3 working days' notice on
China's calendar (weekends, National Day 2026 and its make-up working days), overlaps, cancellation, the
guard on change steps, the customer banner, and the console page."""

from __future__ import annotations

import datetime as dt
import threading
import time

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ImproperlyConfigured
from django.db import connections, transaction
from django.template.loader import render_to_string
from django.test import RequestFactory

from epolicy.audit.models import AuditEvent
from epolicy.common import clock
from epolicy.common.errors import ApplicationError
from epolicy.ops import maintenance
from epolicy.ops.maintenance import (
    maintenance_announcements,
    maintenance_banner,
    maintenance_current,
    maintenance_guard,
    maintenance_notice_bounds,
    maintenance_window_cancel,
    maintenance_window_schedule,
    notice_working_days,
)
from epolicy.ops.models import MaintenanceWindow

pytestmark = pytest.mark.django_db

SCOPE = "life_self_service"


def at(text: str) -> dt.datetime:
    """A Shanghai time written as "2026-11-24 01:00"."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=clock.SHANGHAI)


# Friday 2026-11-20 is a working day; Mon 11-23 … Fri 11-27 are working days.
FRIDAY = at("2026-11-20 10:00")


def schedule(
    starts: str, ends: str, *, now: dt.datetime = FRIDAY, reason: str = "系统升级", actor="staff:alice"
):
    with clock.frozen_clock(now):
        return maintenance_window_schedule(starts_at=at(starts), ends_at=at(ends), reason=reason, actor=actor)


def refusal(
    starts: str, ends: str, *, now: dt.datetime = FRIDAY, reason: str = "系统升级"
) -> ApplicationError:
    with pytest.raises(ApplicationError) as caught:
        schedule(starts, ends, now=now, reason=reason)
    return caught.value


# --- the calendar itself (so a changed chinese_calendar fails here first, with a clear reason) -----------


def test_the_calendar_knows_national_day_2026_and_its_make_up_days():
    import chinese_calendar

    holidays = [dt.date(2026, 10, d) for d in range(1, 8)]
    assert all(chinese_calendar.is_holiday(d) for d in holidays)
    assert chinese_calendar.is_workday(dt.date(2026, 10, 8))  # Thursday, back to work
    assert chinese_calendar.is_workday(dt.date(2026, 10, 10))  # Saturday, make-up working day
    assert chinese_calendar.is_workday(dt.date(2026, 9, 20))  # Sunday, make-up working day
    assert chinese_calendar.is_holiday(dt.date(2026, 9, 25))  # Mid-Autumn Festival (a Friday)


# --- notice: working days strictly between the announcement's date and the start's date -----------------


@pytest.mark.parametrize(
    ("announced", "starts", "expected"),
    [
        # A weekend: announced Friday, nothing counts until Monday.
        ("2026-11-20", "2026-11-23", 0),  # Sat, Sun
        ("2026-11-20", "2026-11-24", 1),  # Mon
        ("2026-11-20", "2026-11-26", 3),  # Mon, Tue, Wed
        ("2026-11-20", "2026-11-27", 4),  # Mon … Thu
        ("2026-11-20", "2026-11-20", 0),  # the same day
        ("2026-11-20", "2026-11-19", 0),  # the past
        # National Day 2026: 10-01 … 10-07 off, Saturday 10-10 worked.
        ("2026-09-30", "2026-10-08", 0),  # seven days off in between
        ("2026-09-30", "2026-10-09", 1),  # 10-08
        ("2026-09-30", "2026-10-11", 3),  # 10-08, 10-09, Sat 10-10 (make-up)
        ("2026-09-30", "2026-10-12", 3),  # Sun 10-11 is off
        ("2026-09-30", "2026-10-13", 4),  # … and Mon 10-12
        ("2026-10-03", "2026-10-09", 1),  # announced during the holiday
        # Sunday 09-20 is a make-up working day: it gives the notice a weekend would not.
        ("2026-09-18", "2026-09-21", 1),
    ],
)
def test_notice_counts_working_days_strictly_between(announced, starts, expected):
    assert notice_working_days(dt.date.fromisoformat(announced), dt.date.fromisoformat(starts)) == expected


@pytest.mark.parametrize(
    ("now", "starts", "ends", "allowed"),
    [
        (FRIDAY, "2026-11-23 01:00", "2026-11-23 03:00", False),  # Monday: only a weekend in between
        (FRIDAY, "2026-11-23 22:00", "2026-11-24 01:00", False),  # starts on Monday, whatever the end
        (FRIDAY, "2026-11-24 00:00", "2026-11-24 02:00", True),  # the earliest start
        (FRIDAY, "2026-11-26 23:59", "2026-11-27 02:00", True),  # the latest start
        (FRIDAY, "2026-11-27 00:00", "2026-11-27 02:00", False),  # four working days in between
        (FRIDAY, "2026-11-20 23:00", "2026-11-21 01:00", False),  # tonight
        (at("2026-09-30 10:00"), "2026-10-08 01:00", "2026-10-08 03:00", False),  # right after the holiday
        (at("2026-09-30 10:00"), "2026-10-09 00:00", "2026-10-09 03:00", True),
        (at("2026-09-30 10:00"), "2026-10-11 02:00", "2026-10-11 04:00", True),  # Sat 10-10 worked
        (at("2026-09-30 10:00"), "2026-10-12 23:00", "2026-10-13 01:00", True),
        (at("2026-09-30 10:00"), "2026-10-13 01:00", "2026-10-13 03:00", False),
        (at("2026-09-30 23:30"), "2026-10-09 01:00", "2026-10-09 03:00", True),  # late the same day
        (at("2026-09-18 18:00"), "2026-09-21 01:00", "2026-09-21 03:00", True),  # Sun 09-20 worked
    ],
)
def test_notice_bounds(now, starts, ends, allowed):
    if allowed:
        window = schedule(starts, ends, now=now)
        assert 1 <= window.notice_working_days <= 3
    else:
        exc = refusal(starts, ends, now=now)
        assert exc.code == "maintenance_notice_invalid" and exc.status == 422
        assert "1 至 3 个工作日" in exc.message_zh and exc.details["field"] == "starts_at"
        assert not MaintenanceWindow.objects.exists()


def test_a_notice_refusal_says_which_starts_are_allowed():
    exc = refusal("2026-10-08 01:00", "2026-10-08 03:00", now=at("2026-09-30 10:00"))
    assert "只有 0 个工作日" in exc.message_zh
    assert "2026年10月9日 00:00 至 2026年10月12日 23:59" in exc.message_zh
    assert exc.details["earliest_start"] == "2026-10-09T00:00:00+08:00"
    assert exc.details["latest_start"] == "2026-10-12T23:59:00+08:00"


@pytest.mark.parametrize(
    ("now", "earliest", "latest", "working_days"),
    [
        (
            FRIDAY,
            "2026-11-24 00:00",
            "2026-11-26 23:59",
            ["2026-11-23", "2026-11-24", "2026-11-25", "2026-11-26"],
        ),
        (
            at("2026-09-30 10:00"),
            "2026-10-09 00:00",
            "2026-10-12 23:59",
            ["2026-10-08", "2026-10-09", "2026-10-10", "2026-10-12"],
        ),
        (
            at("2026-09-26 10:00"),  # Mid-Autumn Saturday
            "2026-09-29 00:00",
            "2026-10-08 23:59",
            ["2026-09-28", "2026-09-29", "2026-09-30", "2026-10-08"],
        ),
    ],
)
def test_earliest_and_latest_start(now, earliest, latest, working_days):
    bounds = maintenance_notice_bounds(now)
    assert bounds.earliest_start == at(earliest) and bounds.latest_start == at(latest)
    assert [d.isoformat() for d in bounds.working_days] == working_days


def test_bounds_follow_off_peak_hours_within_one_day(settings):
    settings.MAINTENANCE_OFF_PEAK_START = "01:00"
    settings.MAINTENANCE_OFF_PEAK_END = "05:00"
    bounds = maintenance_notice_bounds(FRIDAY)
    assert bounds.earliest_start == at("2026-11-24 01:00") and bounds.latest_start == at("2026-11-26 04:59")


def test_a_year_the_calendar_does_not_know_is_refused_clearly():
    # 2099 stands for any year chinese_calendar has no holiday data for yet (it raises NotImplementedError).
    exc = refusal("2099-03-05 01:00", "2099-03-05 03:00", now=at("2099-03-02 10:00"))
    assert exc.code == "maintenance_calendar_unknown" and exc.status == 503
    assert "2099 年" in exc.message_zh and "升级工作日历" in exc.message_zh
    with pytest.raises(ApplicationError) as caught:
        maintenance_notice_bounds(at("2099-03-02 10:00"))
    assert caught.value.code == "maintenance_calendar_unknown"
    assert not MaintenanceWindow.objects.exists()


def test_counting_stops_before_a_year_it_does_not_need():
    # Far too late anyway: refused for the notice, without asking the calendar about 2099.
    exc = refusal("2099-01-05 01:00", "2099-01-05 03:00")
    assert exc.code == "maintenance_notice_invalid" and "超过 3 个工作日" in exc.message_zh


# --- length ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("starts", "ends", "allowed"),
    [
        ("2026-11-24 00:30", "2026-11-24 05:30", True),  # exactly 5 hours (含)
        ("2026-11-24 00:30", "2026-11-24 05:31", False),  # 5 hours 1 minute
        ("2026-11-24 22:00", "2026-11-25 03:00", True),  # 5 hours across midnight
        ("2026-11-24 01:00", "2026-11-24 01:01", True),  # 1 minute
        ("2026-11-24 01:00", "2026-11-24 01:00", False),  # nothing
        ("2026-11-24 03:00", "2026-11-24 01:00", False),  # ends before it starts
    ],
)
def test_duration_bounds(starts, ends, allowed):
    if allowed:
        window = schedule(starts, ends)
        assert window.ends_at - window.starts_at <= dt.timedelta(hours=5)
    else:
        exc = refusal(starts, ends)
        assert exc.code == "maintenance_duration_invalid" and exc.details["field"] == "ends_at"
        assert "不超过 5 小时（含）" in exc.message_zh


def test_a_deployment_may_lower_the_limit_but_not_raise_it(settings):
    settings.MAINTENANCE_MAX_HOURS = 3
    schedule("2026-11-24 01:00", "2026-11-24 04:00")
    exc = refusal("2026-11-25 01:00", "2026-11-25 04:01")
    assert exc.code == "maintenance_duration_invalid" and "不超过 3 小时" in exc.message_zh
    settings.MAINTENANCE_MAX_HOURS = 6
    with pytest.raises(ImproperlyConfigured):
        maintenance.maintenance_rules()


# --- off-peak hours -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("starts", "ends", "allowed", "field"),
    [
        ("2026-11-24 22:00", "2026-11-24 23:00", True, None),  # starts as off-peak begins
        ("2026-11-24 21:59", "2026-11-24 23:00", False, "starts_at"),
        ("2026-11-24 01:00", "2026-11-24 06:00", True, None),  # ends as off-peak ends
        ("2026-11-24 01:01", "2026-11-24 06:01", False, "ends_at"),
        ("2026-11-24 05:00", "2026-11-24 07:00", False, "ends_at"),
        ("2026-11-24 12:00", "2026-11-24 13:00", False, "starts_at"),
        ("2026-11-24 23:00", "2026-11-25 02:00", True, None),  # across midnight
        ("2026-11-24 06:00", "2026-11-24 07:00", False, "starts_at"),  # off-peak has just ended
    ],
)
def test_off_peak_bounds(starts, ends, allowed, field):
    if allowed:
        schedule(starts, ends)
    else:
        exc = refusal(starts, ends)
        assert exc.code == "maintenance_not_off_peak" and exc.details["field"] == field
        assert "22:00 至次日 06:00" in exc.message_zh


def test_off_peak_hours_come_from_settings(settings):
    settings.MAINTENANCE_OFF_PEAK_START = "01:00"
    settings.MAINTENANCE_OFF_PEAK_END = "05:00"
    schedule("2026-11-24 01:00", "2026-11-24 05:00")
    for starts, ends in [("2026-11-25 00:30", "2026-11-25 02:00"), ("2026-11-24 23:00", "2026-11-25 01:30")]:
        exc = refusal(starts, ends)
        assert exc.code == "maintenance_not_off_peak" and "01:00 至 05:00" in exc.message_zh
    settings.MAINTENANCE_OFF_PEAK_END = "6 am"
    with pytest.raises(ImproperlyConfigured):
        maintenance.maintenance_rules()


# --- reason, overlap ------------------------------------------------------------------------------------


@pytest.mark.parametrize("reason", ["", "   ", "system upgrade", "升" * 201])
def test_the_reason_is_chinese_text_customers_can_read(reason):
    exc = refusal("2026-11-24 01:00", "2026-11-24 03:00", reason=reason)
    assert exc.code == "validation_error" and exc.details == {"field": "reason"}


@pytest.mark.parametrize(
    ("starts", "ends", "allowed"),
    [
        ("2026-11-24 02:00", "2026-11-24 04:00", False),  # overlaps the end
        ("2026-11-24 00:00", "2026-11-24 01:30", False),  # overlaps the start
        ("2026-11-24 01:30", "2026-11-24 02:30", False),  # inside
        ("2026-11-24 03:00", "2026-11-24 04:00", False),  # back to back: one 3-hour downtime
        ("2026-11-24 00:00", "2026-11-24 01:00", False),
        ("2026-11-24 03:01", "2026-11-24 04:00", True),
        ("2026-11-25 01:00", "2026-11-25 03:00", True),  # the next night
    ],
)
def test_windows_of_a_scope_neither_overlap_nor_touch(starts, ends, allowed):
    first = schedule("2026-11-24 01:00", "2026-11-24 03:00")
    if allowed:
        schedule(starts, ends)
        assert MaintenanceWindow.objects.count() == 2
    else:
        exc = refusal(starts, ends)
        assert exc.code == "maintenance_overlap" and exc.status == 409
        assert exc.details["window_id"] == first.pk
        assert "2026年11月24日 01:00 至 03:00" in exc.message_zh


def test_a_cancelled_window_frees_its_time():
    first = schedule("2026-11-24 01:00", "2026-11-24 03:00")
    with clock.frozen_clock(FRIDAY):
        maintenance_window_cancel(window_id=first.pk, actor="staff:bob", reason="升级推迟")
    schedule("2026-11-24 01:00", "2026-11-24 03:00")
    assert MaintenanceWindow.objects.filter(cancelled_at__isnull=True).count() == 1


# --- cancel ---------------------------------------------------------------------------------------------


def test_cancel_an_announced_window():
    window = schedule("2026-11-24 01:00", "2026-11-24 03:00")
    later = at("2026-11-21 09:00")
    with clock.frozen_clock(later):
        cancelled = maintenance_window_cancel(window_id=window.pk, actor="staff:bob", reason="升级推迟")
    cancelled.refresh_from_db()
    assert (cancelled.cancelled_at, cancelled.cancelled_by, cancelled.cancel_reason) == (
        later,
        "staff:bob",
        "升级推迟",
    )
    assert maintenance_announcements(SCOPE, later) == []
    with clock.frozen_clock(later), pytest.raises(ApplicationError) as caught:
        maintenance_window_cancel(window_id=window.pk, actor="staff:bob", reason="再次")
    assert (
        caught.value.code == "maintenance_not_cancellable"
        and "已于 2026年11月21日 09:00" in caught.value.message_zh
    )


def test_cancel_a_window_in_progress_lifts_the_guard_at_once():
    window = schedule("2026-11-24 01:00", "2026-11-24 03:00")
    during = at("2026-11-24 01:30")
    with clock.frozen_clock(during):
        with pytest.raises(ApplicationError):
            maintenance_guard(SCOPE)
        maintenance_window_cancel(window_id=window.pk, actor="staff:bob", reason="提前完成")
        maintenance_guard(SCOPE)  # no longer raises
    event = AuditEvent.objects.get(action="maintenance.cancelled")
    assert event.data["in_progress"] is True


@pytest.mark.parametrize(
    ("window_id", "reason", "now", "code"),
    [
        (None, "", FRIDAY, "validation_error"),
        (None, "已完成", at("2026-11-24 03:00"), "maintenance_not_cancellable"),  # ended
        (999_999, "原因", FRIDAY, "not_found"),
    ],
)
def test_cancel_refusals(window_id, reason, now, code):
    window = schedule("2026-11-24 01:00", "2026-11-24 03:00")
    with clock.frozen_clock(now), pytest.raises(ApplicationError) as caught:
        maintenance_window_cancel(window_id=window_id or window.pk, actor="staff:bob", reason=reason)
    assert caught.value.code == code
    window.refresh_from_db()
    assert window.cancelled_at is None


# --- the guard, selectors, banner -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "retry_after"),
    [
        ("2026-11-24 00:59:59", None),
        ("2026-11-24 01:00:00", 7200),
        ("2026-11-24 02:59:30", 30),
        ("2026-11-24 02:59:59.500", 1),  # rounded up: never "retry now" while still down
        ("2026-11-24 03:00:00", None),
    ],
)
def test_the_guard_refuses_during_a_window_only(now, retry_after):
    schedule("2026-11-24 01:00", "2026-11-24 03:00")
    with clock.frozen_clock(at(now)):
        if retry_after is None:
            maintenance_guard(SCOPE)
            assert maintenance_current(SCOPE) is None
            return
        with pytest.raises(ApplicationError) as caught:
            maintenance_guard(SCOPE)
    exc = caught.value
    assert exc.code == "service_maintenance" and exc.status == 503
    assert exc.details["retry_after_seconds"] == retry_after
    assert exc.details["ends_at"] == "2026年11月24日 03:00"
    assert "预计 2026年11月24日 03:00 恢复" in exc.message_zh and "查询" in exc.message_zh


def test_pages_send_retry_after_for_the_guards_refusal():
    from epolicy.portal.views import page

    schedule("2026-11-24 01:00", "2026-11-24 03:00")
    with clock.frozen_clock(at("2026-11-24 02:00")), pytest.raises(ApplicationError) as caught:
        maintenance_guard(SCOPE)
    request = RequestFactory().get("/")
    response = page(request, "portal/base.html", {"error": caught.value}, status=caught.value.status)
    assert response.status_code == 503 and response["Retry-After"] == "3600"


def test_customers_see_announced_windows_until_they_end():
    first = schedule("2026-11-24 01:00", "2026-11-24 03:00")
    second = schedule("2026-11-24 23:00", "2026-11-25 02:00")
    assert maintenance_announcements(SCOPE, at("2026-11-20 09:59")) == []  # not yet announced
    assert maintenance_announcements(SCOPE, FRIDAY) == [first, second]
    assert maintenance_announcements(SCOPE, at("2026-11-24 02:00")) == [first, second]
    assert maintenance_announcements(SCOPE, at("2026-11-24 03:00")) == [second]
    assert maintenance_announcements(SCOPE, at("2026-11-25 02:00")) == []

    banner = maintenance_banner(SCOPE, FRIDAY)
    assert banner is not None and banner.current is None
    assert [(n.starts_text, n.ends_text) for n in banner.upcoming] == [
        ("2026年11月24日 01:00", "03:00"),
        ("2026年11月24日 23:00", "2026年11月25日 02:00"),
    ]
    html = render_to_string("ops/_maintenance_banner.html", {"maintenance": banner})
    assert (
        "系统将于 2026年11月24日 01:00 至 03:00 停机维护（系统升级），期间暂停办理保全变更，查询不受影响。"
        in html
    )
    assert 'data-state="current"' not in html

    during = maintenance_banner(SCOPE, at("2026-11-24 02:00"))
    assert (
        during is not None
        and during.current is not None
        and during.current.ends_full_text == "2026年11月24日 03:00"
    )
    html = render_to_string("ops/_maintenance_banner.html", {"maintenance": during})
    assert (
        "保全变更暂停办理，预计 2026年11月24日 03:00 恢复" in html
        and html.count('data-state="upcoming"') == 1
    )

    assert maintenance_banner(SCOPE, at("2026-11-25 02:00")) is None
    assert render_to_string("ops/_maintenance_banner.html", {"maintenance": None}).strip() == ""


# --- audit ----------------------------------------------------------------------------------------------


def test_schedule_and_cancel_are_audited_and_refusals_are_not():
    refusal("2026-11-24 12:00", "2026-11-24 13:00")
    assert not AuditEvent.objects.filter(subject_type="maintenance_window").exists()
    window = schedule("2026-11-24 01:00", "2026-11-24 03:00")
    with clock.frozen_clock(FRIDAY):
        maintenance_window_cancel(window_id=window.pk, actor="staff:bob", reason="升级推迟")
    events = list(AuditEvent.objects.filter(subject_type="maintenance_window", subject_id=str(window.pk)))
    assert [(e.action, e.actor) for e in events] == [
        ("maintenance.scheduled", "staff:alice"),
        ("maintenance.cancelled", "staff:bob"),
    ]
    assert events[0].data == {
        "scope": SCOPE,
        "starts_at": "2026-11-24T01:00:00+08:00",
        "ends_at": "2026-11-24T03:00:00+08:00",
        "reason": "系统升级",
        "notice_working_days": 1,
    }
    assert events[1].data == {"scope": SCOPE, "reason": "升级推迟", "in_progress": False}


# --- console --------------------------------------------------------------------------------------------


@pytest.fixture
def staff(client):
    user = get_user_model().objects.create_user("alice", password="pw-123456", is_staff=True)
    client.force_login(user)
    return user


def test_the_console_page_needs_staff(client):
    resp = client.get("/console/maintenance/")
    assert resp.status_code == 302 and resp["Location"].startswith("/console/login/")


def test_the_console_shows_the_rules_and_the_allowed_starts(client, staff):
    with clock.frozen_clock(at("2026-09-30 10:00")):
        html = client.get("/console/maintenance/").content.decode()
    assert "22:00 至次日 06:00" in html and "5 小时（含）" in html and "1 至 3 个工作日" in html
    assert "2026-10-09 00:00" in html and "2026-10-12 23:59" in html
    assert 'min="2026-10-09T00:00" max="2026-10-12T23:59"' in html


def test_the_console_says_when_the_calendar_does_not_know_today(client, staff):
    with clock.frozen_clock(at("2099-03-02 10:00")):
        resp = client.get("/console/maintenance/")
    assert resp.status_code == 200
    assert 'data-code="maintenance_calendar_unknown"' in resp.content.decode()


def test_the_console_schedules_and_cancels(client, staff):
    form = {
        "scope": SCOPE,
        "starts_at": "2026-11-24T01:00",
        "ends_at": "2026-11-24T03:00",
        "reason": "数据库升级",
    }
    with clock.frozen_clock(FRIDAY):
        resp = client.post("/console/maintenance/schedule/", form)
        assert resp.status_code == 302
        window = MaintenanceWindow.objects.get()
        assert (window.starts_at, window.ends_at, window.created_by) == (
            at("2026-11-24 01:00"),
            at("2026-11-24 03:00"),
            "staff:alice",
        )
        html = client.get("/console/maintenance/").content.decode()
        assert "已安排并向客户公告" in html and "数据库升级" in html and f'data-window="{window.pk}"' in html

        resp = client.post(f"/console/maintenance/{window.pk}/cancel/", {"reason": "改期"})
        assert resp.status_code == 302
        window.refresh_from_db()
        assert window.cancelled_by == "staff:alice" and window.cancel_reason == "改期"

        again = client.post(f"/console/maintenance/{window.pk}/cancel/", {"reason": "改期"})
        assert again.status_code == 409
        assert 'data-code="maintenance_not_cancellable"' in again.content.decode()


@pytest.mark.parametrize(
    ("starts_at", "ends_at", "reason", "code", "text"),
    [
        ("2026-11-24T05:00", "2026-11-24T06:01", "升级", "maintenance_not_off_peak", "22:00 至次日 06:00"),
        ("2026-11-23T01:00", "2026-11-23T03:00", "升级", "maintenance_notice_invalid", "1 至 3 个工作日"),
        ("2026-11-24T00:30", "2026-11-24T05:31", "升级", "maintenance_duration_invalid", "5 小时"),
        ("", "2026-11-24T03:00", "升级", "validation_error", "请选择开始时间"),
        ("2026-11-24T01:00", "2026-11-24T03:00", "upgrade", "validation_error", "用中文填写维护原因"),
    ],
)
def test_the_console_shows_refusals_in_chinese_and_keeps_the_form(
    client, staff, starts_at, ends_at, reason, code, text
):
    form = {"scope": SCOPE, "starts_at": starts_at, "ends_at": ends_at, "reason": reason}
    with clock.frozen_clock(FRIDAY):
        resp = client.post("/console/maintenance/schedule/", form)
    html = resp.content.decode()
    assert resp.status_code in (409, 422) and f'data-code="{code}"' in html and text in html
    assert f'value="{ends_at}"' in html and f'value="{reason}"' in html
    assert not MaintenanceWindow.objects.exists()


# --- two staff at once ----------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_scheduling_waits_for_the_scopes_lock(shared_db):
    """Thread B schedules while this transaction holds the scope's lock and has added an overlapping
    window: B must wait, then see that window and be refused (without the lock it would insert too)."""
    outcome: list[object] = []

    def other_staff():
        try:
            outcome.append(schedule("2026-11-24 02:00", "2026-11-24 04:00", actor="staff:bob"))
        except Exception as exc:
            outcome.append(exc)
        finally:
            connections.close_all()

    thread = threading.Thread(target=other_staff)
    with transaction.atomic():
        maintenance._lock_scope(SCOPE)
        MaintenanceWindow.objects.create(
            scope=SCOPE,
            starts_at=at("2026-11-24 01:00"),
            ends_at=at("2026-11-24 03:00"),
            reason="系统升级",
            notice_working_days=1,
            created_by="staff:alice",
            created_at=FRIDAY,
            announced_at=FRIDAY,
        )
        thread.start()
        time.sleep(0.5)
        assert thread.is_alive()  # waiting for the lock
    thread.join(timeout=30)
    assert len(outcome) == 1 and isinstance(outcome[0], ApplicationError)
    assert outcome[0].code == "maintenance_overlap"
    assert MaintenanceWindow.objects.count() == 1


def test_a_year_the_package_does_not_know_can_be_entered_as_data(settings, tmp_path):
    """The insurer enters the State Council's arrangement for a year chinesecalendar does not ship yet.
    2099 and its dates stand for such a year (no real arrangement is implied)."""
    calendar = tmp_path / "workdays.yaml"
    calendar.write_text(
        "2099:\n  holidays: [2099-03-04, 2099-03-05]\n  workdays: [2099-03-07]\n", encoding="utf-8"
    )
    settings.MAINTENANCE_CALENDAR_FILE = str(calendar)
    from epolicy.ops.maintenance import is_working_day

    days = {d: is_working_day(dt.date(2099, 3, d)) for d in range(2, 10)}
    # 2099-03-02 is a Monday: Mon, Tue working; Wed, Thu listed holidays; Fri working; Sat 7 a make-up
    # working day; Sun 8 off; Mon 9 working.
    assert days == {2: True, 3: True, 4: False, 5: False, 6: True, 7: True, 8: False, 9: True}
    assert is_working_day(dt.date(2026, 10, 1)) is False  # other years still from the package
    bounds = maintenance_notice_bounds(at("2099-03-02 10:00"))  # counts over the listed days
    assert bounds.earliest_start < bounds.latest_start
    with pytest.raises(ApplicationError) as unknown:
        is_working_day(dt.date(2098, 3, 2))
    assert "EPOLICY_MAINTENANCE_CALENDAR_FILE" in unknown.value.message_zh


@pytest.mark.parametrize(
    "text",
    [
        "2099:\n  holidays: [2098-03-04]\n",  # a date of another year
        "2099:\n  workdays: [2099-03-04]\n",  # a make-up working day on a weekday
        "2099:\n  holidays: [2099-03-07]\n  workdays: [2099-03-07]\n",  # both
        "2099:\n  days_off: [2099-03-04]\n",  # an unknown list
        "- 2099-03-04\n",  # not years
        "2099:\n  holidays: [2099-03-04\n",  # not YAML
    ],
)
def test_a_mistake_in_the_calendar_file_stops_the_count_instead_of_guessing(settings, tmp_path, text):
    from django.core.exceptions import ImproperlyConfigured

    from epolicy.ops.maintenance import is_working_day

    calendar = tmp_path / "workdays.yaml"
    calendar.write_text(text, encoding="utf-8")
    settings.MAINTENANCE_CALENDAR_FILE = str(calendar)
    with pytest.raises(ImproperlyConfigured, match="EPOLICY_MAINTENANCE_CALENDAR_FILE"):
        is_working_day(dt.date(2099, 3, 2))
