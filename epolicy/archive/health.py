"""Readiness checks of the archive (epolicy.ops.health): both locations can be reached.

The archive is write-once (a probe object could never be removed from a locked bucket), so nothing is
written: a location on disk must be an existing, writable directory; an object store must answer an
existence query for a probe name (network, credentials and bucket are then all right). The answer names
the location only by its alias.
"""

from __future__ import annotations

import os

from django.core.files.storage import FileSystemStorage, Storage

from epolicy.ops.health import Outcome, fail, ok, register

from .storage import WriteOnceStorage, archive_storage, backup_storage

PROBE = "ops-ready-probe/absent"


def _inner(storage: Storage) -> Storage:
    return storage.inner if isinstance(storage, WriteOnceStorage) else storage


def location_check(storage: Storage) -> Outcome:
    inner = _inner(storage)
    if isinstance(inner, FileSystemStorage):
        where = str(inner.location)
        if not os.path.isdir(where):
            return fail(error="location_missing")
        if not os.access(where, os.W_OK | os.X_OK):
            return fail(error="location_not_writable")
        return ok(kind="filesystem")
    inner.exists(PROBE)  # raises when the store cannot be reached or refuses our credentials
    return ok(kind=inner.__class__.__name__)


def register_checks() -> None:
    register("archive", lambda: location_check(archive_storage()), uses_database=False)
    register("archive_backup", lambda: location_check(backup_storage()), uses_database=False)
