"""Every request gets an id; every log record written while it is handled carries it, and so do the records
of the background work it asked for.

- `RequestIdMiddleware` (first in settings.MIDDLEWARE) takes the caller's `X-Request-ID` when it is a
  plain token (`ACCEPTED`: 8–64 letters, digits, `-`, `_`, `.`), else makes a random one; it is returned
  in the response's `X-Request-ID` and held in a context variable for the request's duration.
- `RequestIdFilter` (on every handler in settings.LOGGING) adds `request_id` and `task_id` to each record.
- Background work: the outbox stores the id of the request that asked for a job and `bound(...)` puts it
  back while the job runs (epolicy.ops.outbox); `task_started` of django-tasks (immediate, database and
  RQ backends alike) sets `task_id` for the records a task writes.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import re
import secrets
from collections.abc import Callable, Iterator
from typing import Any

from django.http import HttpRequest, HttpResponse

HEADER = "X-Request-ID"
ACCEPTED = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{7,63}")

_request_id: contextvars.ContextVar[str] = contextvars.ContextVar("epolicy_request_id", default="")
_task_id: contextvars.ContextVar[str] = contextvars.ContextVar("epolicy_task_id", default="")


def new_request_id() -> str:
    return secrets.token_hex(16)


def accepted(value: str | None) -> str:
    """The caller's id when it is a plain token, else ""."""
    value = (value or "").strip()
    return value if ACCEPTED.fullmatch(value) else ""


def current_request_id() -> str:
    return _request_id.get()


def current_task_id() -> str:
    return _task_id.get()


@contextlib.contextmanager
def bound(request_id: str = "", task_id: str | None = None) -> Iterator[None]:
    """Log records written inside carry `request_id` (and `task_id` when given); restored on exit."""
    tokens: list[tuple[contextvars.ContextVar[str], contextvars.Token[str]]] = []
    if request_id:
        tokens.append((_request_id, _request_id.set(request_id)))
    if task_id is not None:
        tokens.append((_task_id, _task_id.set(task_id)))
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


class RequestIdMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = accepted(request.headers.get(HEADER)) or new_request_id()
        request.request_id = request_id  # type: ignore[attr-defined]
        token = _request_id.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            _request_id.reset(token)
        response[HEADER] = request_id
        return response


class RequestIdFilter(logging.Filter):
    """Adds `request_id` and `task_id` ("" outside a request or task) to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", ""):
            # Django logs a 4xx/5xx answer (django.request) after the middleware has returned: the
            # request itself, passed as `extra`, still knows its id.
            own = getattr(getattr(record, "request", None), "request_id", "")
            record.request_id = own if isinstance(own, str) and own else _request_id.get()
        if not getattr(record, "task_id", ""):
            record.task_id = _task_id.get()
        return True


# --- tasks -----------------------------------------------------------------------------------------------
# A task's records carry its id from task_started to task_finished. The immediate backend runs the task
# inside the request (which keeps its own id); a worker runs one task at a time per thread.
_task_tokens: contextvars.ContextVar[list[contextvars.Token[str]]] = contextvars.ContextVar(
    "epolicy_task_tokens"
)


def _task_started(sender: Any, task_result: Any, **kwargs: Any) -> None:
    stack = _task_tokens.get(None)
    if stack is None:
        stack = []
        _task_tokens.set(stack)
    stack.append(_task_id.set(str(getattr(task_result, "id", "") or "")))


def _task_finished(sender: Any, task_result: Any, **kwargs: Any) -> None:
    stack = _task_tokens.get(None)
    if stack:
        token = stack.pop()
        try:
            _task_id.reset(token)
        except ValueError:  # set in another context (a worker thread that ended): just clear it
            _task_id.set("")


def connect_task_signals() -> None:
    from django_tasks.signals import task_finished, task_started

    task_started.connect(_task_started, dispatch_uid="epolicy.requestid.task_started")
    task_finished.connect(_task_finished, dispatch_uid="epolicy.requestid.task_finished")
