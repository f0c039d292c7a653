"""Log records as JSON, one object per line (EPOLICY_LOG_FORMAT=json; the default in production).

Fields: `time` (UTC, ISO 8601 with milliseconds), `level`, `logger`, `message`, `request_id` and
`task_id` (empty outside a request or task; added by epolicy.common.requestid.RequestIdFilter), and
`exception` (the formatted traceback) when there is one. The message is the redacted one: the filters of
the handler (epolicy.common.logredact) run before the formatter.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Mapping
from typing import Any

from .logredact import redact


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": dt.datetime.fromtimestamp(record.created, tz=dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", "") or "",
            "task_id": getattr(record, "task_id", "") or "",
        }
        # A traceback may quote a secret link or an identifier: the same redaction as the message.
        if record.exc_text:
            entry["exception"] = redact(record.exc_text)
        elif record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info))
        if record.stack_info:
            entry["stack"] = redact(self.formatStack(record.stack_info))
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """The development format: time, level, logger, [request id], message; tracebacks redacted too."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        if not hasattr(record, "request_id"):
            record.request_id = ""
        return super().format(record)

    def formatException(self, ei):  # type: ignore[no-untyped-def]
        return redact(super().formatException(ei))


def log_format(environ: Mapping[str, str]) -> str:
    """EPOLICY_LOG_FORMAT: json or text; by default json in production (EPOLICY_ENV=production)."""
    default = "json" if environ.get("EPOLICY_ENV", "development") == "production" else "text"
    value = environ.get("EPOLICY_LOG_FORMAT", default).strip().lower()
    if value not in {"json", "text"}:
        raise ValueError(f"EPOLICY_LOG_FORMAT must be json or text, not {value!r}")
    return value


def console_logging(fmt: str) -> dict[str, Any]:
    """The filters, formatters and `console` handler of a logging dictConfig: request id, redaction, then
    `fmt`. Django's LOGGING (config/settings.py) and gunicorn's own log (config/gunicorn.conf.py) both
    write through it, so every line on the stream is redacted and in one format."""
    return {
        "filters": {
            "request_id": {"()": "epolicy.common.requestid.RequestIdFilter"},
            "redact": {"()": "epolicy.common.logredact.RedactSecretsFilter"},
        },
        "formatters": {
            "json": {"()": "epolicy.common.jsonlog.JsonFormatter"},
            "text": {"()": "epolicy.common.jsonlog.TextFormatter"},
        },
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "filters": ["request_id", "redact"],
                "formatter": fmt,
            }
        },
    }
