"""A logging filter that keeps secrets and personal identifiers out of every log line (access logs
included), on every handler of settings.LOGGING.

- Secrets of URLs: applicant links carry their secret in the path (/m/a/<token>/,
  /api/v1/customer/applications/<token>), download links theirs too; whoever reads the logs must not be
  able to open them.
- Personal identifiers that reach a message by accident (an exception's text, a library's debug line): an
  18-character resident ID number, a mainland mobile number (with or without +86) and an e-mail address
  are masked like the pages mask them (epolicy.common.masking). Names cannot be recognised by a pattern:
  log calls name people by their record's id or masked name, never in clear.

The record's message, its arguments and its exception text are all cleaned; the formatters
(epolicy.common.jsonlog) redact tracebacks they format themselves. Django's template engine logs a failed
variable lookup with an exception quoting the whole template context: only its class is kept.
"""

from __future__ import annotations

import logging
import re

from .masking import mask_id_number, mask_phone

# Path segments that are secrets, and what follows them up to the next / ? space or quote.
_SECRET_PATHS = re.compile(
    r"(/m/a/|/api/v1/customer/applications/|/api/v1/public/policies/download/|/sandbox/pay/|/s/dispute/"
    r"|/api/v1/selfservice/disputes/|/sandbox/identity/face/|/sandbox/identity/video/)[^/?\s\"']+"
)
# Not inside a longer word or number (a policy number, a hash, a timestamp keeps its digits).
_ID_NUMBER = re.compile(
    r"(?<![0-9A-Za-z])[1-9]\d{5}(?:18|19|20)\d{2}[01]\d[0-3]\d\d{3}[0-9Xx](?![0-9A-Za-z])"
)
_PHONE = re.compile(r"(?<![0-9A-Za-z])(?:\+?86[- ]?)?(1[3-9]\d{9})(?![0-9A-Za-z])")
_EMAIL = re.compile(r"(?<![\w.%+-])[\w.%+-]+@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,})")


def redact(text: str) -> str:
    text = _SECRET_PATHS.sub(r"\1[redacted]", text)
    if any(c.isdigit() for c in text):
        text = _ID_NUMBER.sub(lambda m: mask_id_number(m.group(0)), text)
        text = _PHONE.sub(lambda m: mask_phone(m.group(1)), text)
    if "@" in text:
        text = _EMAIL.sub(r"***@\1", text)
    return text


class RedactSecretsFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: leave the record alone
            return True
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.name == "django.template" and record.exc_info:
            # A failed variable lookup (logged at DEBUG) quotes the whole template context in its
            # message: names, addresses, anything a page shows. Keep the line, drop the context.
            exc = record.exc_info[1]
            record.exc_info = None
            record.exc_text = f"{exc.__class__.__name__} (template context omitted)"
        if record.exc_info and not record.exc_text:
            # Format the traceback once here so that every handler's formatter reuses the cleaned text.
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True
