"""Write-once access to the archive's storages ("archive" and its second copy "archive_backup").

`WriteOnceStorage` wraps any Django storage (local disk, django-storages' S3 backend, ...) and refuses
what would change an archived object: saving under a name that exists, opening for writing, and
`delete()`. Two narrow doors remain, each used by one service and each checked there as well:

* `replace_with_verified()` puts back the registered bytes of an object whose copy went missing or
  was altered (the scrub's repair). It hashes the incoming bytes first and refuses anything that is not
  exactly what was registered, so it can restore an object but never change one.
* `delete_approved()` removes an object once its deletion was approved by a second staff member after
  the retention date (`archive_deletion_approve`).

The archive code always goes through `archive_storage()` / `backup_storage()`, which wrap the
configured storages; configuring the wrapper itself as the backend in `settings.STORAGES` (see
docs/archive.md) makes `storages["archive"]` write-once for any other code too.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from collections.abc import Iterator
from typing import IO, Any

from django.core.files.base import File
from django.core.files.storage import Storage, storages
from django.utils.module_loading import import_string

logger = logging.getLogger("epolicy.archive")

# Where the audit log's anchors live in both locations (written by epolicy.anchoring).
AUDIT_ANCHOR_PREFIX = "audit-anchors"
PRIMARY = "archive"
BACKUP = "archive_backup"
LOCATION_LABELS = {PRIMARY: "主存储", BACKUP: "备份存储"}
CHUNK = 1024 * 1024


class ArchiveWriteRefused(PermissionError):
    """Something tried to overwrite, rewrite or delete an archived object outside the approved paths."""


class ArchiveOverwriteRefused(ArchiveWriteRefused, FileExistsError):
    """An archived object already exists under this name; it is never overwritten."""


class WriteOnceStorage(Storage):
    """A storage that only ever adds objects (see the module docstring for the two exceptions)."""

    def __init__(
        self,
        inner: Storage | None = None,
        *,
        backend: str | None = None,
        options: dict[str, Any] | None = None,
    ) -> None:
        if inner is None:
            if not backend:
                raise ValueError("WriteOnceStorage needs the storage it wraps (or OPTIONS['backend'])")
            inner = import_string(backend)(**(options or {}))
        if isinstance(inner, WriteOnceStorage):
            inner = inner.inner
        self.inner: Storage = inner

    # --- reading -------------------------------------------------------------------------------------
    def open(self, name: str, mode: str = "rb") -> File:
        if any(flag in mode for flag in "wax+"):
            raise ArchiveWriteRefused(f"archived object {name} cannot be opened for writing ({mode!r})")
        return self.inner.open(name, mode)

    def exists(self, name: str) -> bool:
        return self.inner.exists(name)

    def size(self, name: str) -> int:
        return self.inner.size(name)

    def listdir(self, path: str) -> tuple[list[str], list[str]]:
        return self.inner.listdir(path)

    def url(self, name: str | None) -> str:
        return self.inner.url(name)

    def path(self, name: str) -> str:
        return self.inner.path(name)

    def get_modified_time(self, name: str) -> Any:
        return self.inner.get_modified_time(name)

    def get_valid_name(self, name: str) -> str:
        return self.inner.get_valid_name(name)

    def generate_filename(self, filename: str | os.PathLike[str]) -> str:
        return self.inner.generate_filename(filename)

    def get_available_name(self, name: str, max_length: int | None = None) -> str:
        if self.inner.exists(name):
            raise ArchiveOverwriteRefused(f"archived object {name} already exists")
        return name

    # --- adding --------------------------------------------------------------------------------------
    def save(self, name: str | None, content: Any, max_length: int | None = None) -> str:
        """Add a new object under exactly `name`; refuse when the name is taken."""
        if not name:
            raise ValueError("an archived object needs a name")
        if self.inner.exists(name):
            raise ArchiveOverwriteRefused(f"archived object {name} already exists")
        saved = self.inner.save(name, content, max_length=max_length)
        if saved != name:
            # Another writer took the name between our check and the write, and the backend chose a
            # free name instead of overwriting. The copy under the other name is ours and unregistered.
            self.inner.delete(saved)
            raise ArchiveOverwriteRefused(f"archived object {name} already exists")
        return saved

    def delete(self, name: str) -> None:
        raise ArchiveWriteRefused(
            f"archived object {name} cannot be deleted: use archive_deletion_request/archive_deletion_approve"
        )

    # --- the two narrow doors ------------------------------------------------------------------------
    def replace_with_verified(self, name: str, source: IO[bytes], *, sha256: str) -> None:
        """Put back the registered bytes (SHA-256 `sha256`) of a missing or altered object."""
        with tempfile.SpooledTemporaryFile(max_size=8 * CHUNK) as spool:
            digest = hashlib.sha256()
            for chunk in iter(lambda: source.read(CHUNK), b""):
                digest.update(chunk)
                spool.write(chunk)
            if digest.hexdigest() != sha256:
                raise ArchiveWriteRefused(
                    f"refusing to write {name}: the bytes offered are not the registered ones"
                )
            if self.inner.exists(name):
                current = hash_stored(self.inner, name)
                if current == sha256:
                    return
                logger.warning("archive: replacing the altered copy of %s (had sha256 %s)", name, current)
                self.inner.delete(name)
            spool.seek(0)
            saved = self.inner.save(name, File(spool, name=name))
        if saved != name:
            self.inner.delete(saved)
            raise ArchiveOverwriteRefused(f"{name} was re-created by another writer during the repair")
        if hash_stored(self.inner, name) != sha256:
            raise OSError(f"the repaired copy of {name} does not read back with the registered SHA-256")

    def delete_approved(self, name: str, *, deletion_request_id: int) -> None:
        """Remove an object whose deletion was approved (called only by the deletion service)."""
        if self.inner.exists(name):
            self.inner.delete(name)
            logger.info("archive: deleted %s (deletion request %s)", name, deletion_request_id)


def _wrap(alias: str) -> WriteOnceStorage:
    storage = storages[alias]
    return storage if isinstance(storage, WriteOnceStorage) else WriteOnceStorage(storage)


def archive_storage() -> WriteOnceStorage:
    """The primary archive location (settings.STORAGES["archive"]), write-once."""
    return _wrap(PRIMARY)


def backup_storage() -> WriteOnceStorage:
    """The second copy (settings.STORAGES["archive_backup"]), write-once."""
    return _wrap(BACKUP)


def location_storage(location: str) -> WriteOnceStorage:
    if location not in LOCATION_LABELS:
        raise ValueError(f"unknown archive location {location!r}")
    return _wrap(location)


def read_chunks(storage: Storage, name: str) -> Iterator[bytes]:
    with storage.open(name, "rb") as fh:
        yield from iter(lambda: fh.read(CHUNK), b"")


def hash_stored(storage: Storage, name: str) -> str:
    """SHA-256 of a stored object, read in chunks (never the whole object in memory)."""
    digest = hashlib.sha256()
    for chunk in read_chunks(storage, name):
        digest.update(chunk)
    return digest.hexdigest()
