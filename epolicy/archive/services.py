"""Write-once storage of documents through Django's storage API (alias "archive")."""

from __future__ import annotations

import datetime as dt

from django.core.files.base import ContentFile
from django.core.files.storage import storages

from epolicy.common import clock, crypto

from .models import ArchivedObject


def retention_until(period_start: dt.date, period_end: dt.date) -> dt.date:
    """Motor standard §5 c / insurance law art. 87: end + 5 years for terms ≤ 1 year, + 10 years otherwise."""
    one_year_later = _add_years(period_start, 1)
    years = 5 if period_end <= one_year_later else 10
    return _add_years(period_end, years)


def _add_years(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def archive_put(
    *,
    data: bytes,
    kind: str,
    name: str,
    content_type: str = "application/pdf",
    application_id: int | None = None,
    policy_id: int | None = None,
    retention: dt.date | None = None,
) -> ArchivedObject:
    """Store bytes once under a fresh key and register them; an existing key is never overwritten."""
    storage = storages["archive"]
    at = clock.now()
    digest = crypto.sha256_hex(data)
    key = f"{kind}/{clock.local(at):%Y/%m/%d}/{name}-{digest[:12]}"
    if storage.exists(key):
        existing = ArchivedObject.objects.filter(key=key).first()
        if existing is not None and existing.sha256 == digest:
            return existing
        raise FileExistsError(f"archive key {key} already exists")
    saved = storage.save(key, ContentFile(data))
    return ArchivedObject.objects.create(
        key=saved,
        kind=kind,
        sha256=digest,
        size=len(data),
        content_type=content_type,
        application_id=application_id,
        policy_id=policy_id,
        retention_until=retention,
        created_at=at,
    )


def archive_read(obj: ArchivedObject) -> bytes:
    """Read an archived object back, refusing it when its bytes no longer match the registered hash."""
    with storages["archive"].open(obj.key, "rb") as fh:
        data: bytes = fh.read()
    if crypto.sha256_hex(data) != obj.sha256:
        raise OSError(f"archived object {obj.key} does not match its registered SHA-256")
    return data


def archive_add_version(*, previous: ArchivedObject, data: bytes, reason: str) -> ArchivedObject:
    """Store a new version of an archived document (e.g. re-signed, or with a renewed archive timestamp).

    The earlier version stays stored and retrievable; it points to the new one through superseded_by.
    """
    new = archive_put(
        data=data,
        kind=previous.kind,
        name=f"{previous.key.rsplit('/', 1)[-1].rsplit('-', 1)[0]}-{reason}",
        content_type=previous.content_type,
        application_id=previous.application_id,
        policy_id=previous.policy_id,
        retention=previous.retention_until,
    )
    ArchivedObject.objects.filter(pk=previous.pk).update(superseded_by=new)
    return new


def archive_latest(obj: ArchivedObject) -> ArchivedObject:
    """The newest version of an archived document (following superseded_by)."""
    seen = {obj.pk}
    while obj.superseded_by_id is not None and obj.superseded_by_id not in seen:
        seen.add(obj.superseded_by_id)
        obj = ArchivedObject.objects.get(pk=obj.superseded_by_id)
    return obj
