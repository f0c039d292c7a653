"""Orphans: bytes in an archive location that no `ArchivedObject` row registers.

`archive_put` writes both copies before its row commits, so a transaction that rolls back afterwards
leaves its bytes behind (a retry adopts them only when they are the very same bytes). Such bytes are
outside the register, the retention dates and the deletion approvals, so the scrub lists them for a
person to look at; nothing here deletes anything. The storage is walked with `listdir`, which
FileSystemStorage and django-storages' S3Storage both implement, and looked up in the register in
batches of keys.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import posixpath
from collections.abc import Iterable, Iterator

from django.core.files.storage import Storage

from epolicy.common import clock

from .models import ArchivedObject
from .storage import LOCATION_LABELS, location_storage

logger = logging.getLogger("epolicy.archive")

# Younger bytes may belong to a transaction still in progress (written, row not yet committed).
ORPHAN_GRACE = dt.timedelta(hours=1)
KEY_BATCH = 500


@dataclasses.dataclass(frozen=True)
class OrphanFinding:
    location: str  # "archive" or "archive_backup"
    key: str
    size: int | None  # None: could not be read
    modified_at: dt.datetime | None
    age_seconds: int | None
    recent: bool  # younger than ORPHAN_GRACE: may still be registered by a running transaction

    def describe(self) -> str:
        size = "?" if self.size is None else f"{self.size} 字节"
        age = "?" if self.age_seconds is None else _age_text(self.age_seconds)
        state = "（较新，可能属于仍在进行的事务，暂不计为问题）" if self.recent else ""
        return (
            f"{LOCATION_LABELS[self.location]}（{self.location}）未登记的对象{state}："
            f"{self.key}，{size}，已存在 {age}"
        )

    def as_json(self) -> dict:
        data = dataclasses.asdict(self)
        data["modified_at"] = self.modified_at.isoformat() if self.modified_at else None
        return data


def _age_text(seconds: int) -> str:
    if seconds < 3600:
        return f"{seconds // 60} 分钟"
    if seconds < 86400:
        return f"{seconds // 3600} 小时"
    return f"{seconds // 86400} 天"


def walk_keys(storage: Storage, path: str = "") -> Iterator[str]:
    """Every object name under `path`, depth first (one `listdir` per directory / key prefix)."""
    try:
        directories, files = storage.listdir(path)
    except FileNotFoundError:
        return  # a local location never written to (or a directory removed since its parent was listed)
    for name in sorted(files):
        yield posixpath.join(path, name) if path else name
    for name in sorted(directories):
        yield from walk_keys(storage, posixpath.join(path, name) if path else name)


def _batches(keys: Iterable[str], size: int) -> Iterator[list[str]]:
    batch: list[str] = []
    for key in keys:
        batch.append(key)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _unregistered(keys: list[str]) -> list[str]:
    """The keys of `keys` without a row (a tombstoned row still registers its key)."""
    known = set(ArchivedObject.objects.filter(key__in=keys).values_list("key", flat=True))
    return [key for key in keys if key not in known]


def _describe_orphan(
    storage: Storage, location: str, key: str, *, now: dt.datetime, grace: dt.timedelta
) -> OrphanFinding | None:
    """Size and age of one unregistered object; None when it went away since it was listed."""
    try:
        size: int | None = storage.size(key)
        modified: dt.datetime | None = storage.get_modified_time(key)
    except FileNotFoundError:
        return None
    except Exception:
        logger.exception("archive scrub: cannot read size or age of unregistered %s in %s", key, location)
        size, modified = None, None
    age = None if modified is None else max(0, int((now - modified).total_seconds()))
    recent = age is not None and age < grace.total_seconds()
    return OrphanFinding(location, key, size, modified, age, recent)


def find_orphans(
    location: str, *, now: dt.datetime | None = None, grace: dt.timedelta = ORPHAN_GRACE
) -> Iterator[OrphanFinding]:
    """Objects present in `location` that no ArchivedObject row registers (never deletes anything)."""
    from .storage import AUDIT_ANCHOR_PREFIX as ANCHOR_PREFIX  # written by epolicy.anchoring, not registered

    storage = location_storage(location)
    now = now or clock.now()
    keys = (k for k in walk_keys(storage) if not k.startswith(f"{ANCHOR_PREFIX}/"))
    for batch in _batches(keys, KEY_BATCH):
        for key in _unregistered(batch):
            finding = _describe_orphan(storage, location, key, now=now, grace=grace)
            if finding is not None:
                yield finding
