"""Real-time retrieval from the archive for the insurer's systems (motor standard §7.1.4 a).

Mounted by config/api.py at /archive: GET /api/v1/archive/policies/{number} and
GET /api/v1/archive/objects/{id}/download, where id is the object's random public id (sequential ids
are never exposed). Scope archive:read: the policies of applications the client submitted;
archive:all: every policy.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.http import HttpRequest, HttpResponse
from ninja import Router, Schema

from epolicy.common.errors import CODES, ApplicationError
from epolicy.common.schemas import request_api_client, system_auth

from .models import ArchivedObject
from .selectors import archive_object_get
from .services import TOMBSTONE_MESSAGE, archive_latest, archive_read

logger = logging.getLogger("epolicy.archive")
router = Router(tags=["archive (影像系统)"], auth=system_auth("archive:read"))

_EXTENSIONS = {"application/pdf": ".pdf", "application/json": ".json", "image/png": ".png"}


class VersionOut(Schema):
    id: str
    version: int
    sha256: str
    size: int
    content_type: str
    created_at: dt.datetime
    retention_until: dt.date | None
    superseded_by: str | None
    replicated: bool
    deleted_at: dt.datetime | None


class DocumentOut(Schema):
    id: str
    kind: str
    kind_label: str
    content_type: str
    sha256: str
    size: int
    created_at: dt.datetime
    retention_until: dt.date | None
    deleted: bool
    download_url: str
    versions: list[VersionOut]


class PolicyArchiveOut(Schema):
    policy_number: str
    status: str
    period_start: dt.date
    period_end: dt.date
    documents: list[DocumentOut]


def _scoped_client(request: HttpRequest):  # type: ignore[no-untyped-def]
    """The API client whose own policies bound what it sees (None: staff, or a client with archive:all)."""
    client = request_api_client(request)
    return None if client is None or client.has_scope("archive:all") else client


def _version(obj: ArchivedObject, number: int, public_ids: dict[int, str]) -> dict:
    return {
        "id": obj.public_id,
        "version": number,
        "sha256": obj.sha256,
        "size": obj.size,
        "content_type": obj.content_type,
        "created_at": obj.created_at,
        "retention_until": obj.retention_until,
        "superseded_by": public_ids.get(obj.superseded_by_id) if obj.superseded_by_id else None,
        "replicated": obj.replicated_at is not None,
        "deleted_at": obj.deleted_at,
    }


@router.get(
    "/objects/{object_id}/download", summary="下载影像资料（默认最新版本；exact=true 下载该版本本身）"
)
def download(request: HttpRequest, object_id: str, exact: bool = False) -> HttpResponse:
    obj = archive_object_get(public_id=object_id, client=_scoped_client(request))
    if not exact:
        obj = archive_latest(obj)
    if obj.deleted_at is not None:
        raise ApplicationError("not_found", TOMBSTONE_MESSAGE)
    try:
        data = archive_read(obj)
    except OSError:
        logger.error("archive: object %s (%s) could not be served: both copies bad", obj.pk, obj.key)
        code = "archive_unavailable" if "archive_unavailable" in CODES else "application_state"
        raise ApplicationError(code, "影像资料的两处副本均无法通过完整性校验，已记录并通知管理员。") from None
    logger.info("archive: object %s served to %s", obj.pk, getattr(request, "auth", "?"))
    response = HttpResponse(data, content_type=obj.content_type)
    filename = obj.key.rsplit("/", 1)[-1] + _EXTENSIONS.get(obj.content_type, "")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["X-Content-SHA256"] = obj.sha256
    response["ETag"] = f'"{obj.sha256}"'
    response["Cache-Control"] = "no-store"
    return response
