"""The one clock of the platform: aware datetimes; business dates in Asia/Shanghai.

Tests freeze it with `frozen_clock(...)`; nothing else reads the system time directly.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
from collections.abc import Iterator
from zoneinfo import ZoneInfo

from django.utils import timezone

SHANGHAI = ZoneInfo("Asia/Shanghai")
_frozen: contextvars.ContextVar[dt.datetime | None] = contextvars.ContextVar(
    "epolicy_frozen_clock", default=None
)


def now() -> dt.datetime:
    frozen = _frozen.get()
    return frozen if frozen is not None else timezone.now()


def today() -> dt.date:
    """Today's business date in Shanghai."""
    return now().astimezone(SHANGHAI).date()


def local(value: dt.datetime) -> dt.datetime:
    return value.astimezone(SHANGHAI)


def fmt_local(value: dt.datetime) -> str:
    return local(value).strftime("%Y-%m-%d %H:%M:%S")


def start_of_day(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0, 0), tzinfo=SHANGHAI)


@contextlib.contextmanager
def frozen_clock(at: dt.datetime) -> Iterator[None]:
    if at.tzinfo is None:
        raise ValueError("frozen_clock needs an aware datetime")
    token = _frozen.set(at)
    try:
        yield
    finally:
        _frozen.reset(token)
