"""Write-once storage of documents through Django's storage API, with a second copy (motor standard §5,
life guide §7.2), retention dates (insurance law art. 87) and four-eyes deletion after them."""

from __future__ import annotations

import datetime as dt
import logging

from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Model

from epolicy.audit.services import audit_record
from epolicy.common import clock, crypto
from epolicy.common.errors import ApplicationError
from epolicy.common.failpoints import failpoint
from epolicy.ops.outbox import PURGE_ARCHIVE, REPLICATE_ARCHIVE, outbox_enqueue

from .models import ArchiveDeletionRequest, ArchivedObject, subject_label
from .storage import (
    BACKUP,
    PRIMARY,
    ArchiveOverwriteRefused,
    archive_storage,
    backup_storage,
    hash_stored,
    location_storage,
)

logger = logging.getLogger("epolicy.archive")

TOMBSTONE_MESSAGE = "该影像资料已过保存期限并经审批删除，仅保留登记信息（哈希值、大小、删除时间）。"
APPROVE_PERMISSION = "archive.approve_deletion"


# --- retention ------------------------------------------------------------------------------------------
def retention_until(period_start: dt.date, period_end: dt.date) -> dt.date:
    """Motor standard §5 c / insurance law art. 87: end + 5 years for terms ≤ 1 year, + 10 years otherwise."""
    return add_years(period_end, retention_years(period_start, period_end))


def retention_years(period_start: dt.date, contracted_end: dt.date) -> int:
    return 5 if contracted_end <= add_years(period_start, 1) else 10


def add_years(day: dt.date, years: int) -> dt.date:
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
    subject: Model | None = None,
    retention: dt.date | None = None,
    subject_ref: tuple[str, int | None] | None = None,
) -> ArchivedObject:
    """Store bytes once under a fresh key in both locations and register them; never overwrite.

    `subject` is the model instance the document belongs to (an application, a policy, a life policy),
    recorded by type and id (`subject_ref` gives them directly, e.g. a new version's).

    The second copy is written at once; when that fails the object stays unreplicated and a repair
    task is queued on commit (the scrub finds it too).
    """
    primary = archive_storage()
    at = clock.now()
    digest = crypto.sha256_hex(data)
    key = f"{kind}/{clock.local(at):%Y/%m/%d}/{name}-{digest[:12]}"
    existing = ArchivedObject.objects.filter(key=key).first()
    if existing is not None:
        if existing.sha256 == digest and existing.deleted_at is None:
            return existing
        raise ArchiveOverwriteRefused(f"archive key {key} is already registered with other content")
    if primary.exists(key):
        # Bytes left by a transaction that rolled back after writing them: adopt them only if they are
        # exactly these bytes; anything else under this key is never overwritten.
        if hash_stored(primary, key) != digest:
            raise ArchiveOverwriteRefused(f"archive key {key} already exists with other content")
    else:
        failpoint(f"archive.primary.{kind}")
        primary.save(key, ContentFile(data))
    replicated = _write_second_copy(key, data, digest)
    obj = ArchivedObject.objects.create(
        key=key,
        kind=kind,
        sha256=digest,
        size=len(data),
        content_type=content_type,
        subject_type=subject_label(subject) if subject is not None else (subject_ref or ("", None))[0],
        subject_id=subject.pk if subject is not None else (subject_ref or ("", None))[1],
        retention_until=retention,
        created_at=at,
        replicated_at=clock.now() if replicated else None,
    )
    if not replicated:
        # Committed with the row: the second copy is written later even if this process dies now.
        outbox_enqueue(kind=REPLICATE_ARCHIVE, subject=obj.pk, reference=name)
    return obj


def _write_second_copy(key: str, data: bytes, digest: str) -> bool:
    backup = backup_storage()
    try:
        failpoint(f"archive.second_copy.{key.split('/', 1)[0]}")
        if backup.exists(key):
            return hash_stored(backup, key) == digest
        backup.save(key, ContentFile(data))
        return True
    except Exception:
        # The primary copy is safe; the second one is retried by a task and by the scrub.
        logger.exception("archive: could not write the second copy of %s", key)
        return False


def archive_read(obj: ArchivedObject) -> bytes:
    """Read an archived object back, checking it against its registered hash; when the primary copy is
    missing or altered and the second copy is intact, serve that and queue a repair."""
    if obj.deleted_at is not None:
        raise ApplicationError("not_found", TOMBSTONE_MESSAGE)
    problem = "unreadable"
    try:
        data = _read_whole(PRIMARY, obj.key)
        if crypto.sha256_hex(data) == obj.sha256:
            return data
        problem = "altered"
    except FileNotFoundError:
        problem = "missing"
    except Exception:
        logger.exception("archive: cannot read %s from the primary location", obj.key)
    try:
        data = _read_whole(BACKUP, obj.key)
    except Exception:
        data = b""
    if data and crypto.sha256_hex(data) == obj.sha256:
        logger.warning(
            "archive: primary copy of %s (object %s) is %s; served the second copy", obj.key, obj.pk, problem
        )
        if problem != "unreadable":
            outbox_enqueue(
                kind=REPLICATE_ARCHIVE, subject=obj.pk, reference=obj.key.rsplit("/", 1)[-1], reopen=True
            )
        return data
    raise OSError(f"archived object {obj.key} does not match its registered SHA-256 in either location")


def _read_whole(location: str, key: str) -> bytes:
    with location_storage(location).open(key, "rb") as fh:
        data: bytes = fh.read()
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
        subject_ref=(previous.subject_type, previous.subject_id),
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


# --- deletion after the retention date (four eyes) ------------------------------------------------------
def _staff_user(actor: str, *, permission: str | None = None) -> object:
    kind, _, username = actor.partition(":")
    user_model = get_user_model()
    user = (
        user_model._default_manager.filter(**{user_model.USERNAME_FIELD: username}).first()
        if kind == "staff" and username
        else None
    )
    if user is None or not user.is_active or not getattr(user, "is_staff", False):
        raise ApplicationError("permission_denied", "只有保险公司在职工作人员可以申请或审批删除影像资料。")
    if permission is not None and not user.has_perm(permission):
        raise ApplicationError("permission_denied", "您没有审批删除影像资料的权限，请联系管理员授权。")
    return user


def _check_deletable(obj: ArchivedObject) -> None:
    if obj.deleted_at is not None:
        raise ApplicationError("application_state", "该影像资料已经删除。")
    if obj.retention_until is None:
        raise ApplicationError(
            "application_state", "该影像资料没有登记保存期限，不能删除；请先为其保单重新计算保存期限。"
        )
    if clock.today() <= obj.retention_until:
        raise ApplicationError(
            "archive_retention_active",
            f"该影像资料须保存至 {obj.retention_until:%Y-%m-%d}（保险法第八十七条），期满之前不能删除。",
            {"retention_until": obj.retention_until.isoformat()},
        )


def archive_deletion_request(*, obj: ArchivedObject, actor: str, reason: str) -> ArchiveDeletionRequest:
    """Ask to delete an object whose retention date has passed; another staff member must approve."""
    _staff_user(actor)
    reason = (reason or "").strip()
    if not reason:
        raise ApplicationError("validation_error", "请填写删除原因。", {"field": "reason"})
    with transaction.atomic():
        locked = ArchivedObject.objects.select_for_update().get(pk=obj.pk)
        _check_deletable(locked)
        if locked.deletion_requests.filter(status=ArchiveDeletionRequest.Status.PENDING).exists():
            raise ApplicationError("application_state", "该影像资料已有待审批的删除申请。")
        request = ArchiveDeletionRequest.objects.create(
            archived_object=locked, reason=reason[:500], requested_by=actor, requested_at=clock.now()
        )
        audit_record(
            action="archive.deletion_requested",
            actor=actor,
            subject_type="archived_object",
            subject_id=str(locked.pk),
            data={
                "request": request.pk,
                "key": locked.key,
                "sha256": locked.sha256,
                "retention_until": locked.retention_until,
                "reason": request.reason,
            },
        )
    return request


def _pending_request(request_id: int, actor: str) -> ArchiveDeletionRequest:
    request = ArchiveDeletionRequest.objects.select_for_update().filter(pk=request_id).first()
    if request is None:
        raise ApplicationError("not_found", "没有这条删除申请。")
    if request.status != ArchiveDeletionRequest.Status.PENDING:
        raise ApplicationError(
            "application_state", f"该删除申请已处理（{request.get_status_display()}），不能再审批。"
        )
    if request.requested_by == actor:
        raise ApplicationError(
            "archive_four_eyes", "删除须由另一名工作人员审批：申请人不能审批自己的删除申请。"
        )
    return request


def archive_deletion_approve(*, request_id: int, actor: str) -> ArchivedObject:
    """Approve a deletion (a different staff member holding archive.approve_deletion): tombstone the row
    now, remove both copies once this commits, and record both in the audit log."""
    _staff_user(actor, permission=APPROVE_PERMISSION)
    with transaction.atomic():
        request = _pending_request(request_id, actor)
        obj = ArchivedObject.objects.select_for_update().get(pk=request.archived_object_id)
        _check_deletable(obj)  # again: the policy may have been endorsed since the request
        now = clock.now()
        request.status = ArchiveDeletionRequest.Status.APPROVED
        request.decided_by = actor
        request.decided_at = now
        request.save(update_fields=["status", "decided_by", "decided_at"])
        obj.deleted_at = now
        obj.save(update_fields=["deleted_at"])
        audit_record(
            action="archive.deleted",
            actor=actor,
            subject_type="archived_object",
            subject_id=str(obj.pk),
            data={
                "request": request.pk,
                "requested_by": request.requested_by,
                "key": obj.key,
                "sha256": obj.sha256,
                "size": obj.size,
                "retention_until": obj.retention_until,
            },
        )
        outbox_enqueue(kind=PURGE_ARCHIVE, subject=obj.pk)
    return obj


def archive_deletion_reject(*, request_id: int, actor: str, note: str = "") -> ArchiveDeletionRequest:
    """Turn a deletion request down (any other staff member); the object stays."""
    _staff_user(actor)
    with transaction.atomic():
        request = _pending_request(request_id, actor)
        request.status = ArchiveDeletionRequest.Status.REJECTED
        request.decided_by = actor
        request.decided_at = clock.now()
        request.decision_note = (note or "").strip()[:500]
        request.save(update_fields=["status", "decided_by", "decided_at", "decision_note"])
        audit_record(
            action="archive.deletion_rejected",
            actor=actor,
            subject_type="archived_object",
            subject_id=str(request.archived_object_id),
            data={"request": request.pk, "note": request.decision_note},
        )
    return request


def archive_purge(*, object_id: int, actor: str = "system:archive") -> bool:
    """Remove both copies of an object whose deletion was approved; idempotent. True once both are gone."""
    with transaction.atomic():
        obj = ArchivedObject.objects.select_for_update().get(pk=object_id)
        if obj.deleted_at is None:
            raise ApplicationError("application_state", "该影像资料没有经过审批删除，不能清除。")
        if obj.purged_at is not None:
            return True
        request = (
            obj.deletion_requests.filter(status=ArchiveDeletionRequest.Status.APPROVED)
            .order_by("-decided_at")
            .first()
        )
        if request is None:
            raise ApplicationError("application_state", "该影像资料没有批准的删除申请，不能清除。")
        for location in (PRIMARY, BACKUP):
            storage = location_storage(location)
            storage.delete_approved(obj.key, deletion_request_id=request.pk)
            if storage.exists(obj.key):
                raise OSError(f"{obj.key} is still present in {location} after deletion")
        obj.purged_at = clock.now()
        obj.save(update_fields=["purged_at"])
        audit_record(
            action="archive.purged",
            actor=actor,
            subject_type="archived_object",
            subject_id=str(obj.pk),
            data={"request": request.pk, "key": obj.key, "locations": [PRIMARY, BACKUP]},
        )
    return True
