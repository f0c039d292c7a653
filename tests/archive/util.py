"""Helpers of the archive tests."""

import datetime as dt

from epolicy.archive.models import ArchivedObject
from epolicy.archive.services import archive_put


def put(data: bytes = b"%PDF-1.7 archived bytes", *, retention: dt.date | None = None, name: str = "T1"):
    return archive_put(data=data, kind=ArchivedObject.Kind.EVIDENCE, name=name, retention=retention)
