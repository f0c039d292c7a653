"""A logging filter that keeps secrets of URLs out of every log line (access logs included).

Applicant links carry their secret in the path (/m/a/<token>/, /api/v1/customer/applications/<token>),
download links theirs too; whoever reads the logs must not be able to open them.
"""

from __future__ import annotations

import logging
import re

# Path segments that are secrets, and what follows them up to the next / ? space or quote.
_SECRET_PATHS = re.compile(
    r"(/m/a/|/api/v1/customer/applications/|/api/v1/public/policies/download/|/sandbox/pay/|/s/dispute/"
    r"|/api/v1/selfservice/disputes/|/sandbox/identity/face/|/sandbox/identity/video/)[^/?\s\"']+"
)


def redact(text: str) -> str:
    return _SECRET_PATHS.sub(r"\1[redacted]", text)


class RedactSecretsFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: leave the record alone
            return True
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True
