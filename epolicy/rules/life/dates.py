"""Calendar arithmetic of a life contract: anniversaries, monthsaries, due dates, day counts.

A policy anniversary is the effective date's month and day in a later year; 29 February becomes
28 February in common years. Monthsaries (premium due dates, universal-life crediting dates) are
always counted from the effective date, never from the previous monthsary, so clamping a 31st to the
30th in one month does not shift every later date. Interest uses actual days over a 365-day year.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal

DAYS_IN_YEAR = Decimal(365)


def add_months(start: date, months: int) -> date:
    """The same day `months` later, clamped to the month's last day (31 Jan + 1 month = 28/29 Feb)."""
    index = start.year * 12 + (start.month - 1) + months
    year, month = divmod(index, 12)
    day = min(start.day, calendar.monthrange(year, month + 1)[1])
    return date(year, month + 1, day)


def add_years(start: date, years: int) -> date:
    return add_months(start, 12 * years)


def months_between(start: date, end: date) -> int | None:
    """n such that add_months(start, n) == end, or None when end is not a monthsary of start."""
    n = (end.year - start.year) * 12 + (end.month - start.month)
    return n if add_months(start, n) == end else None


def anniversary(effective: date, year: int) -> date:
    """The end of policy year `year` (anniversary 0 is the effective date itself)."""
    return add_years(effective, year)


def policy_year(effective: date, on: date) -> int:
    """Policy year of a date: 1 from the effective date up to the day before the first anniversary."""
    if on < effective:
        raise ValueError(f"{on} is before the effective date {effective}")
    year = on.year - effective.year + 1
    while anniversary(effective, year - 1) > on:
        year -= 1
    while anniversary(effective, year) <= on:
        year += 1
    return year


def anniversaries_between(effective: date, after: date, up_to: date) -> Iterator[tuple[int, date]]:
    """(policy year ending, anniversary date) for every anniversary in (after, up_to]."""
    if up_to <= after:
        return
    year = policy_year(effective, max(after, effective))
    while True:
        day = anniversary(effective, year)
        if day > up_to:
            return
        if day > after:
            yield year, day
        year += 1


def monthsaries_between(effective: date, after: date, up_to: date) -> Iterator[date]:
    """Every monthsary of the effective date in (after, up_to]."""
    if up_to <= after:
        return
    n = max(0, (after.year - effective.year) * 12 + (after.month - effective.month) - 1)
    while True:
        day = add_months(effective, n)
        if day > up_to:
            return
        if day > after:
            yield day
        n += 1


def days(start: date, end: date) -> int:
    return (end - start).days


def next_day(day: date) -> date:
    return day + timedelta(days=1)


def zh_date(day: date) -> str:
    """'2026年12月01日', the form printed on endorsements."""
    return f"{day.year}年{day.month:02d}月{day.day:02d}日"
