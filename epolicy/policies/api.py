"""The archive as the insurer's image system sees one policy (motor standard §7.1.4 a): its documents
and their versions, served under /api/v1/archive/policies/{number} beside the archive's own routes."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest
from ninja import Router

from epolicy.archive.api import PolicyArchiveOut, _scoped_client, _version
from epolicy.common.schemas import system_auth

from .archive_documents import archive_documents_for_policy, archive_policy_find

router = Router(tags=["archive (影像系统)"], auth=system_auth("archive:read"))


@router.get(
    "/policies/{number}",
    response=PolicyArchiveOut,
    summary="按保单号列出影像资料（类型、哈希、大小、保存期限、版本）",
)
def policy_archive(request: HttpRequest, number: str) -> dict:
    policy = archive_policy_find(number=number, client=_scoped_client(request))
    chains = archive_documents_for_policy(policy=policy)
    public_ids = {v.pk: v.public_id for doc in chains for v in doc.versions}
    documents = []
    for doc in chains:
        latest = doc.latest
        documents.append(
            {
                "id": latest.public_id,
                "kind": latest.kind,
                "kind_label": latest.get_kind_display(),
                "content_type": latest.content_type,
                "sha256": latest.sha256,
                "size": latest.size,
                "created_at": latest.created_at,
                "retention_until": latest.retention_until,
                "deleted": latest.deleted_at is not None,
                "download_url": f"{settings.SITE_URL}/api/v1/archive/objects/{latest.public_id}/download",
                "versions": [_version(v, n, public_ids) for n, v in enumerate(doc.versions, start=1)],
            }
        )
    return {
        "policy_number": policy.number,
        "status": policy.get_status_display(),
        "period_start": policy.period_start,
        "period_end": policy.period_end,
        "documents": documents,
    }
