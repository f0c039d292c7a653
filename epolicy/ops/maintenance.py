"""Announced maintenance windows of online services (life guide §7.1): rules, services, selectors, guard.

§7.1 a–c: online self-service changes are available 7×24 in principle; a maintenance downtime is held
in off-peak hours, reported one to three working days ahead and announced to the customers, and lasts
at most five hours (inclusive).

- Staff schedule a window with `maintenance_window_schedule` and withdraw it with
  `maintenance_window_cancel` (the console's /console/maintenance/ page calls them).
- Customers see `maintenance_banner` (rendered by `ops/_maintenance_banner.html`) from the moment a
  window is scheduled until it ends.
- During a window every *change* step of the scope calls `maintenance_guard`, which refuses with
  `service_maintenance` (HTTP 503, Retry-After); queries and history never call it and stay available.

Working days follow China's statutory holidays and make-up working days (`chinese_calendar`, or for a
year it does not know yet settings.MAINTENANCE_CALENDAR_FILE); business dates are Asia/Shanghai dates
(`epolicy.common.clock`).
"""

from __future__ import annotations

import datetime as dt
import math
import os
import re
from dataclasses import dataclass

import chinese_calendar
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.db.models import QuerySet

from epolicy.audit.services import audit_record
from epolicy.common import clock
from epolicy.common.errors import ApplicationError

from .models import MaintenanceScope, MaintenanceWindow

SCOPE_LIFE_SELF_SERVICE = MaintenanceWindow.Scope.LIFE_SELF_SERVICE.value

# §7.1 b "需提前一至三个工作日…报备": the guide's numbers, not a deployment's choice.
MIN_NOTICE_WORKING_DAYS = 1
MAX_NOTICE_WORKING_DAYS = 3

DEFAULT_MAX_HOURS = 5  # §7.1 c "单次停机维护时间原则上应少于五个小时（含）"
DEFAULT_OFF_PEAK_START = "22:00"
DEFAULT_OFF_PEAK_END = "06:00"

REASON_MAX_LENGTH = 200
_CHINESE = re.compile(r"[\u4e00-\u9fff]")
_HH_MM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


# --- rules -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MaintenanceRules:
    """The deployment's limits (settings), read once per call."""

    max_duration: dt.timedelta
    off_peak_start: dt.time
    off_peak_end: dt.time

    @property
    def max_hours_text(self) -> str:
        hours = self.max_duration.total_seconds() / 3600
        return f"{hours:g}"

    @property
    def off_peak_text(self) -> str:
        start, end = self.off_peak_start.strftime("%H:%M"), self.off_peak_end.strftime("%H:%M")
        return f"{start} 至{'次日 ' if self.off_peak_start >= self.off_peak_end else ' '}{end}"


def _setting_time(name: str, default: str) -> dt.time:
    raw = str(getattr(settings, name, default))
    match = _HH_MM.match(raw)
    if match is None:
        raise ImproperlyConfigured(f"{name} must be a time of day as HH:MM, not {raw!r}")
    return dt.time(int(match.group(1)), int(match.group(2)))


def maintenance_rules() -> MaintenanceRules:
    """The length limit (MAINTENANCE_MAX_HOURS) and off-peak hours (MAINTENANCE_OFF_PEAK_START/END)."""
    raw_hours = getattr(settings, "MAINTENANCE_MAX_HOURS", DEFAULT_MAX_HOURS)
    try:
        hours = float(raw_hours)
    except (TypeError, ValueError):
        raise ImproperlyConfigured(f"MAINTENANCE_MAX_HOURS must be a number, not {raw_hours!r}") from None
    if not 0 < hours <= DEFAULT_MAX_HOURS:
        # The guide's five hours is a ceiling a deployment may lower, never raise.
        raise ImproperlyConfigured(f"MAINTENANCE_MAX_HOURS must be above 0 and at most 5, not {raw_hours!r}")
    return MaintenanceRules(
        max_duration=dt.timedelta(hours=hours),
        off_peak_start=_setting_time("MAINTENANCE_OFF_PEAK_START", DEFAULT_OFF_PEAK_START),
        off_peak_end=_setting_time("MAINTENANCE_OFF_PEAK_END", DEFAULT_OFF_PEAK_END),
    )


def local_text(moment: dt.datetime) -> str:
    """A moment as customers read it: Shanghai time, e.g. "2026年10月9日 00:30"."""
    local = clock.local(moment)
    return f"{local.year}年{local.month}月{local.day}日 {local:%H:%M}"


def _end_text(starts_at: dt.datetime, ends_at: dt.datetime) -> str:
    """The end, without its date when it is the start's date ("… 01:00 至 03:00")."""
    same_day = clock.local(starts_at).date() == clock.local(ends_at).date()
    return f"{clock.local(ends_at):%H:%M}" if same_day else local_text(ends_at)


def is_working_day(day: dt.date) -> bool:
    """China's working days: weekdays that are no statutory holiday, plus make-up working days.

    A year listed in settings.MAINTENANCE_CALENDAR_FILE (the State Council's arrangement, entered by the
    insurer once it is published) is read from there; any other from `chinese_calendar`.
    """
    listed = extra_calendar().get(day.year)
    if listed is not None:
        holidays, workdays = listed
        return day in workdays or (day.weekday() < 5 and day not in holidays)
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        raise ApplicationError(
            "maintenance_calendar_unknown",
            f"工作日历尚未收录 {day.year} 年的法定节假日和调休安排，无法按工作日计算公告期限；"
            f"请选择 {day.year} 年以前的维护时间，或请管理员升级工作日历（chinesecalendar），"
            f"或在 EPOLICY_MAINTENANCE_CALENDAR_FILE 中录入国务院公布的 {day.year} 年安排后再安排。",
            {"year": day.year},
        ) from None


_extra: tuple[str, float, dict[int, tuple[frozenset[dt.date], frozenset[dt.date]]]] | None = None


def extra_calendar() -> dict[int, tuple[frozenset[dt.date], frozenset[dt.date]]]:
    """The years of settings.MAINTENANCE_CALENDAR_FILE: {year: (days off on weekdays, make-up working days)}.

    The file (YAML) lists, per year, the statutory days off (`holidays`, every date of each holiday period)
    and the weekend days worked instead (`workdays`):

        2027:
          holidays: [2027-01-01, ...]
          workdays: [...]

    Read again when the file changes; a mistake in it stops the count with a clear error instead of
    guessing.
    """
    global _extra
    path = str(getattr(settings, "MAINTENANCE_CALENDAR_FILE", "") or "")
    if not path:
        return {}
    try:
        mtime = os.stat(path).st_mtime
    except OSError as exc:
        raise ImproperlyConfigured(
            f"EPOLICY_MAINTENANCE_CALENDAR_FILE {path!r} cannot be read: {exc}"
        ) from None
    if _extra is not None and _extra[:2] == (path, mtime):
        return _extra[2]
    years = _parse_calendar(path)
    _extra = (path, mtime, years)
    return years


def _parse_calendar(path: str) -> dict[int, tuple[frozenset[dt.date], frozenset[dt.date]]]:
    import yaml

    def bad(why: str) -> ImproperlyConfigured:
        return ImproperlyConfigured(f"EPOLICY_MAINTENANCE_CALENDAR_FILE {path!r}: {why}")

    try:
        with open(path, encoding="utf-8") as handle:
            data = yaml.safe_load(handle) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise bad(f"cannot be read as YAML ({exc.__class__.__name__})") from None
    if not isinstance(data, dict):
        raise bad("expected years, each with holidays and workdays")
    years = {}
    for year, entry in data.items():
        if not isinstance(year, int) or not isinstance(entry, dict) or set(entry) - {"holidays", "workdays"}:
            raise bad(f"{year!r}: expected a year with the lists holidays and workdays")
        lists = []
        for key in ("holidays", "workdays"):
            days = entry.get(key) or []
            if not isinstance(days, list) or not all(type(d) is dt.date and d.year == year for d in days):
                raise bad(f"{year} {key}: expected dates of {year} (YYYY-MM-DD)")
            lists.append(frozenset(days))
        holidays, workdays = lists
        if any(d.weekday() < 5 for d in workdays):
            raise bad(f"{year} workdays: a make-up working day falls on a weekend, not on a weekday")
        if holidays & workdays:
            raise bad(f"{year}: a day is both a holiday and a working day")
        years[year] = (holidays, workdays)
    return years


def notice_working_days(announced_on: dt.date, starts_on: dt.date, *, stop_after: int | None = None) -> int:
    """The notice a window gives (life guide §7.1 b): the number of working days strictly after the
    business date of its announcement and strictly before the business date of its start.

    Neither end counts: the announcement's day is partly gone, and the window may begin in the first
    minutes of its own day. Counting stops once it exceeds `stop_after` (the calendar past that point
    is not needed, and may not be known yet).
    """
    count = 0
    day = announced_on + dt.timedelta(days=1)
    while day < starts_on:
        if is_working_day(day):
            count += 1
            if stop_after is not None and count > stop_after:
                break
        day += dt.timedelta(days=1)
    return count


def _off_peak_period(moment: dt.datetime, rules: MaintenanceRules) -> tuple[dt.datetime, dt.datetime] | None:
    """The off-peak period (e.g. 22:00 to 06:00 the next day) that contains `moment`, if any."""
    local = clock.local(moment)
    wraps = rules.off_peak_start >= rules.off_peak_end  # equal: the whole day is off-peak
    for day in (local.date() - dt.timedelta(days=1), local.date()):
        start = dt.datetime.combine(day, rules.off_peak_start, tzinfo=clock.SHANGHAI)
        end_day = day + dt.timedelta(days=1) if wraps else day
        end = dt.datetime.combine(end_day, rules.off_peak_end, tzinfo=clock.SHANGHAI)
        if start <= local < end:
            return start, end
    return None


@dataclass(frozen=True)
class NoticeBounds:
    """When a window announced now may start: from `earliest_start` to `latest_start` (inclusive)."""

    announced_on: dt.date
    working_days: tuple[dt.date, ...]  # the working days after the announcement that give the notice
    earliest_date: dt.date
    latest_date: dt.date
    earliest_start: dt.datetime  # the first off-peak minute of earliest_date
    latest_start: dt.datetime  # the last off-peak minute of latest_date


def maintenance_notice_bounds(now: dt.datetime | None = None) -> NoticeBounds:
    """The earliest and latest start of a window announced at `now` (life guide §7.1 b, see
    `notice_working_days`): after the first working day following the announcement, and no later than
    the day of the fourth (so at most three lie in between)."""
    rules = maintenance_rules()
    announced_on = clock.local(now or clock.now()).date()
    working: list[dt.date] = []
    day = announced_on
    while len(working) < MAX_NOTICE_WORKING_DAYS + 1:
        day += dt.timedelta(days=1)
        if is_working_day(day):
            working.append(day)
    earliest_date = working[MIN_NOTICE_WORKING_DAYS - 1] + dt.timedelta(days=1)
    latest_date = working[MAX_NOTICE_WORKING_DAYS]

    midnight = clock.start_of_day(earliest_date)
    earliest = (
        midnight
        if _off_peak_period(midnight, rules)
        else dt.datetime.combine(earliest_date, rules.off_peak_start, tzinfo=clock.SHANGHAI)
    )
    last_minute = dt.datetime.combine(latest_date, dt.time(23, 59), tzinfo=clock.SHANGHAI)
    if _off_peak_period(last_minute, rules):
        latest = last_minute
    else:  # off-peak hours within one day (e.g. 01:00–05:00): its last minute
        end = dt.datetime.combine(latest_date, rules.off_peak_end, tzinfo=clock.SHANGHAI)
        latest = end - dt.timedelta(minutes=1)
    return NoticeBounds(
        announced_on=announced_on,
        working_days=tuple(working),
        earliest_date=earliest_date,
        latest_date=latest_date,
        earliest_start=earliest,
        latest_start=latest,
    )


# --- checks (each raises the refusal that tells staff what to change) ----------------------------------


def _check_scope(scope: str) -> str:
    if scope not in MaintenanceWindow.Scope.values:
        raise ValueError(f"unknown maintenance scope {scope!r}")
    return scope


def _check_text(value: str, *, field: str, label: str, chinese: bool) -> str:
    text = (value or "").strip()
    if not text or len(text) > REASON_MAX_LENGTH or (chinese and not _CHINESE.search(text)):
        hint = "用中文填写" if chinese else "填写"
        raise ApplicationError(
            "validation_error",
            f"请{hint}{label}，不超过 {REASON_MAX_LENGTH} 字。",
            {"field": field},
        )
    return text


def _check_duration(starts_at: dt.datetime, ends_at: dt.datetime, rules: MaintenanceRules) -> None:
    duration = ends_at - starts_at
    if duration <= dt.timedelta(0) or duration > rules.max_duration:
        minutes = int(duration.total_seconds() // 60)
        raise ApplicationError(
            "maintenance_duration_invalid",
            f"单次停机维护须晚于开始时间结束，且不超过 {rules.max_hours_text} 小时（含）；"
            f"当前为 {minutes // 60} 小时 {minutes % 60} 分钟，请调整结束时间，更长的维护请分次安排。",
            {"field": "ends_at", "max_hours": rules.max_hours_text, "duration_minutes": minutes},
        )


def _check_off_peak(starts_at: dt.datetime, ends_at: dt.datetime, rules: MaintenanceRules) -> None:
    period = _off_peak_period(starts_at, rules)
    if period is None or ends_at > period[1]:
        raise ApplicationError(
            "maintenance_not_off_peak",
            f"停机维护须整段安排在业务低峰时段（每日 {rules.off_peak_text}）内，"
            f"请把开始和结束时间都调整到该时段内。",
            {"field": "starts_at" if period is None else "ends_at", "off_peak": rules.off_peak_text},
        )


def _check_notice(now: dt.datetime, starts_at: dt.datetime) -> int:
    announced_on = clock.local(now).date()
    starts_on = clock.local(starts_at).date()
    notice = notice_working_days(announced_on, starts_on, stop_after=MAX_NOTICE_WORKING_DAYS)
    if MIN_NOTICE_WORKING_DAYS <= notice <= MAX_NOTICE_WORKING_DAYS:
        return notice
    gap = (
        f"与今天之间只有 {notice} 个工作日"
        if notice < MIN_NOTICE_WORKING_DAYS
        else f"与今天之间超过 {MAX_NOTICE_WORKING_DAYS} 个工作日"
    )
    details: dict[str, object] = {"field": "starts_at", "notice_working_days": notice}
    try:
        bounds = maintenance_notice_bounds(now)
    except ApplicationError:  # the calendar ends before the latest bound: say the rule only
        allowed = ""
    else:
        earliest, latest = local_text(bounds.earliest_start), local_text(bounds.latest_start)
        allowed = f"今天安排的维护，开始时间须在 {earliest} 至 {latest} 之间。"
        details |= {
            "earliest_start": bounds.earliest_start.isoformat(),
            "latest_start": bounds.latest_start.isoformat(),
        }
    raise ApplicationError(
        "maintenance_notice_invalid",
        f"停机维护须提前 {MIN_NOTICE_WORKING_DAYS} 至 {MAX_NOTICE_WORKING_DAYS} 个工作日公告"
        f"（按法定节假日和调休计算，公告当天和维护当天不计），所选开始日期{gap}。{allowed}",
        details,
    )


def _lock_scope(scope: str) -> None:
    """Serialize every change of one scope's windows (the overlap check must see the others' inserts)."""
    MaintenanceScope.objects.bulk_create([MaintenanceScope(scope=scope)], ignore_conflicts=True)
    MaintenanceScope.objects.select_for_update().get(scope=scope)


# --- services ------------------------------------------------------------------------------------------


def maintenance_window_schedule(
    *,
    starts_at: dt.datetime,
    ends_at: dt.datetime,
    reason: str,
    actor: str,
    scope: str = SCOPE_LIFE_SELF_SERVICE,
) -> MaintenanceWindow:
    """Announce a downtime of `scope` (life guide §7.1 b, c); customers see it from now on.

    Refused unless: it lasts more than 0 and at most MAINTENANCE_MAX_HOURS (`maintenance_duration_invalid`);
    it lies wholly inside one off-peak period (`maintenance_not_off_peak`); 1 to 3 working days lie
    between today and its start day (`maintenance_notice_invalid`, see `notice_working_days`;
    `maintenance_calendar_unknown` when the calendar does not know a year it needs); it neither overlaps
    nor touches another active window of the scope (`maintenance_overlap`: back-to-back windows would
    make one downtime longer than the limit). Locks the scope's row, then writes the audit event last.
    """
    _check_scope(scope)
    if starts_at.tzinfo is None or ends_at.tzinfo is None:
        raise ValueError("maintenance windows need aware datetimes")
    reason = _check_text(reason, field="reason", label="维护原因（将展示给客户）", chinese=True)
    rules = maintenance_rules()
    now = clock.now()
    _check_duration(starts_at, ends_at, rules)
    _check_off_peak(starts_at, ends_at, rules)
    notice = _check_notice(now, starts_at)

    with transaction.atomic():
        _lock_scope(scope)
        clash = (
            _active(scope)
            .filter(starts_at__lte=ends_at, ends_at__gte=starts_at)
            .order_by("starts_at")
            .first()
        )
        if clash is not None:
            raise ApplicationError(
                "maintenance_overlap",
                f"与已安排的维护窗口（{local_text(clash.starts_at)} 至 "
                f"{_end_text(clash.starts_at, clash.ends_at)}）重叠或首尾相接，请调整时间，或先取消原窗口。",
                {"field": "starts_at", "window_id": clash.pk},
            )
        window = MaintenanceWindow.objects.create(
            scope=scope,
            starts_at=starts_at,
            ends_at=ends_at,
            reason=reason,
            notice_working_days=notice,
            created_by=actor,
            created_at=now,
            announced_at=now,
        )
        audit_record(
            action="maintenance.scheduled",
            actor=actor,
            subject_type="maintenance_window",
            subject_id=str(window.pk),
            data={
                "scope": scope,
                "starts_at": starts_at.isoformat(),
                "ends_at": ends_at.isoformat(),
                "reason": reason,
                "notice_working_days": notice,
            },
        )
    return window


def maintenance_window_cancel(*, window_id: int, actor: str, reason: str) -> MaintenanceWindow:
    """Withdraw an announced window that has not ended (one in progress ends at once); its row stays.

    Locks the scope's row, then the window, then writes the audit event last.
    """
    reason = _check_text(reason, field="cancel_reason", label="取消原因", chinese=False)
    with transaction.atomic():
        scope = MaintenanceWindow.objects.filter(pk=window_id).values_list("scope", flat=True).first()
        if scope is None:
            raise ApplicationError("not_found", "没有找到该维护窗口，请刷新页面后重试。")
        _lock_scope(scope)
        window = MaintenanceWindow.objects.select_for_update().get(pk=window_id)
        now = clock.now()
        if window.cancelled_at is not None:
            raise ApplicationError(
                "maintenance_not_cancellable",
                f"该维护窗口已于 {local_text(window.cancelled_at)} 由 {window.cancelled_by} 取消，"
                "无需再次取消。",
            )
        if window.ends_at <= now:
            raise ApplicationError(
                "maintenance_not_cancellable", f"该维护窗口已于 {local_text(window.ends_at)} 结束，不能取消。"
            )
        in_progress = window.starts_at <= now
        window.cancelled_at = now
        window.cancelled_by = actor
        window.cancel_reason = reason
        window.save(update_fields=["cancelled_at", "cancelled_by", "cancel_reason"])
        audit_record(
            action="maintenance.cancelled",
            actor=actor,
            subject_type="maintenance_window",
            subject_id=str(window.pk),
            data={"scope": window.scope, "reason": reason, "in_progress": in_progress},
        )
    return window


# --- selectors -----------------------------------------------------------------------------------------


def _active(scope: str) -> QuerySet[MaintenanceWindow]:
    return MaintenanceWindow.objects.filter(scope=_check_scope(scope), cancelled_at__isnull=True)


def maintenance_current(scope: str, now: dt.datetime | None = None) -> MaintenanceWindow | None:
    """The window of `scope` in progress at `now` (not cancelled), if any."""
    now = now or clock.now()
    return _active(scope).filter(starts_at__lte=now, ends_at__gt=now).order_by("starts_at").first()


def maintenance_announcements(scope: str, now: dt.datetime | None = None) -> list[MaintenanceWindow]:
    """The windows of `scope` customers are told about at `now`: announced, not cancelled, not ended."""
    now = now or clock.now()
    return list(_active(scope).filter(announced_at__lte=now, ends_at__gt=now).order_by("starts_at"))


def maintenance_guard(scope: str, now: dt.datetime | None = None) -> None:
    """Refuse a change step of `scope` during a window (life guide §7.1 b): `service_maintenance`, HTTP
    503, with `retry_after_seconds` (until the end, rounded up) that pages and the API send as Retry-After.

    Call it on every step that changes something (quote confirmation, apply); never on queries or
    history, which stay available during maintenance.
    """
    now = now or clock.now()
    window = maintenance_current(scope, now)
    if window is None:
        return
    ends = local_text(window.ends_at)
    raise ApplicationError(
        "service_maintenance",
        f"系统正在停机维护（{window.reason}），保全变更暂停办理，预计 {ends} 恢复；"
        "保单查询和变更记录不受影响。请在维护结束后再办理。",
        {
            "retry_after_seconds": max(1, math.ceil((window.ends_at - now).total_seconds())),
            "ends_at": ends,
            "reason": window.reason,
        },
    )


@dataclass(frozen=True)
class WindowNotice:
    """One window as customers read it."""

    starts_at: dt.datetime
    ends_at: dt.datetime
    starts_text: str  # "2026年10月9日 01:00"
    ends_text: str  # "03:00", or with its date when the window crosses midnight
    ends_full_text: str  # always with its date
    reason: str


@dataclass(frozen=True)
class MaintenanceBanner:
    """The `maintenance` context variable of `ops/_maintenance_banner.html`."""

    current: WindowNotice | None  # in progress: changes are paused until current.ends_full_text
    upcoming: tuple[WindowNotice, ...]  # announced, not started, soonest first


def _notice(window: MaintenanceWindow) -> WindowNotice:
    return WindowNotice(
        starts_at=window.starts_at,
        ends_at=window.ends_at,
        starts_text=local_text(window.starts_at),
        ends_text=_end_text(window.starts_at, window.ends_at),
        ends_full_text=local_text(window.ends_at),
        reason=window.reason,
    )


def maintenance_banner(scope: str, now: dt.datetime | None = None) -> MaintenanceBanner | None:
    """What the customer pages of `scope` announce at `now`; None when there is nothing to say."""
    now = now or clock.now()
    windows = maintenance_announcements(scope, now)
    if not windows:
        return None
    current = next((w for w in windows if w.starts_at <= now), None)
    return MaintenanceBanner(
        current=_notice(current) if current is not None else None,
        upcoming=tuple(_notice(w) for w in windows if w.starts_at > now),
    )
