"""Deletion only after the retention date, asked by one staff member and approved by another."""

import datetime as dt

import pytest
from django.contrib.auth import get_user_model

from epolicy.archive.models import ArchiveDeletionRequest, ArchivedObject
from epolicy.archive.services import (
    archive_deletion_approve,
    archive_deletion_reject,
    archive_deletion_request,
    archive_read,
)
from epolicy.audit.models import AuditEvent
from epolicy.common import clock
from epolicy.common.errors import ApplicationError

from .util import put

pytestmark = pytest.mark.django_db

PAST = dt.date(2020, 1, 1)


def test_deletion_before_the_retention_date_is_refused(staff, primary_dir):
    obj = put(retention=clock.today())  # the last day of retention is still inside it
    with pytest.raises(ApplicationError) as exc:
        archive_deletion_request(obj=obj, actor=staff["alice"], reason="期满")
    assert exc.value.code == "archive_retention_active"
    assert "期满之前不能删除" in exc.value.message_zh
    assert not ArchiveDeletionRequest.objects.exists()
    assert (primary_dir / obj.key).exists()


def test_object_without_a_retention_date_cannot_be_deleted(staff):
    with pytest.raises(ApplicationError) as exc:
        archive_deletion_request(obj=put(retention=None), actor=staff["alice"], reason="期满")
    assert exc.value.code == "application_state"


def test_the_same_staff_member_cannot_approve_her_own_request(staff, primary_dir, backup_dir):
    obj = put(retention=PAST)
    request = archive_deletion_request(obj=obj, actor=staff["alice"], reason="保存期限届满")
    with pytest.raises(ApplicationError) as exc:
        archive_deletion_approve(request_id=request.pk, actor=staff["alice"])
    assert exc.value.code == "archive_four_eyes"
    obj.refresh_from_db()
    assert obj.deleted_at is None
    assert (primary_dir / obj.key).exists() and (backup_dir / obj.key).exists()


@pytest.mark.parametrize("who", ["carol", "dave", "nobody"])
def test_only_staff_with_the_approval_right_may_approve(staff, who):
    request = archive_deletion_request(obj=put(retention=PAST), actor=staff["alice"], reason="期满")
    with pytest.raises(ApplicationError) as exc:
        archive_deletion_approve(request_id=request.pk, actor=staff.get(who, "api:core-system"))
    assert exc.value.code == "permission_denied"


def test_customers_and_systems_cannot_ask_for_deletion(db):
    with pytest.raises(ApplicationError) as exc:
        archive_deletion_request(obj=put(retention=PAST), actor="api:core-system", reason="期满")
    assert exc.value.code == "permission_denied"


def test_approved_deletion_removes_both_copies_and_leaves_a_tombstone(
    staff, primary_dir, backup_dir, committed
):
    obj = put(b"old evidence", retention=PAST)
    sha256 = obj.sha256
    request = archive_deletion_request(obj=obj, actor=staff["alice"], reason="保存期限届满")
    with committed(execute=True):
        archive_deletion_approve(request_id=request.pk, actor=staff["bob"])

    assert not (primary_dir / obj.key).exists()
    assert not (backup_dir / obj.key).exists()
    tombstone = ArchivedObject.objects.get(pk=obj.pk)
    assert tombstone.deleted_at is not None and tombstone.purged_at is not None
    assert tombstone.sha256 == sha256 and tombstone.size == len(b"old evidence")
    request.refresh_from_db()
    assert request.status == "approved" and request.decided_by == "staff:bob"

    events = {e.action: e for e in AuditEvent.objects.filter(subject_type="archived_object")}
    assert events["archive.deletion_requested"].actor == "staff:alice"
    assert events["archive.deleted"].actor == "staff:bob"
    assert events["archive.deleted"].data["sha256"] == sha256
    assert events["archive.deleted"].data["requested_by"] == "staff:alice"
    assert "archive.purged" in events

    with pytest.raises(ApplicationError) as exc:
        archive_read(tombstone)
    assert exc.value.code == "not_found"
    with pytest.raises(ApplicationError):  # and it cannot be deleted twice
        archive_deletion_request(obj=tombstone, actor=staff["alice"], reason="again")


def test_approval_checks_the_retention_date_again(staff, primary_dir):
    obj = put(retention=PAST)
    request = archive_deletion_request(obj=obj, actor=staff["alice"], reason="期满")
    # An endorsement since the request extended the retention.
    ArchivedObject.objects.filter(pk=obj.pk).update(retention_until=clock.today() + dt.timedelta(days=1))
    with pytest.raises(ApplicationError) as exc:
        archive_deletion_approve(request_id=request.pk, actor=staff["bob"])
    assert exc.value.code == "archive_retention_active"
    assert (primary_dir / obj.key).exists()


def test_one_pending_request_per_object_and_rejection_keeps_the_object(staff, primary_dir):
    obj = put(retention=PAST)
    request = archive_deletion_request(obj=obj, actor=staff["alice"], reason="期满")
    with pytest.raises(ApplicationError):
        archive_deletion_request(obj=obj, actor=staff["carol"], reason="期满")
    archive_deletion_reject(request_id=request.pk, actor=staff["carol"], note="仍有诉讼")
    with pytest.raises(ApplicationError):  # a decided request cannot be approved afterwards
        archive_deletion_approve(request_id=request.pk, actor=staff["bob"])
    obj.refresh_from_db()
    assert obj.deleted_at is None and (primary_dir / obj.key).exists()
    assert AuditEvent.objects.filter(action="archive.deletion_rejected", actor="staff:carol").exists()


def test_admin_actions_go_through_the_four_eyes_services(client, primary_dir, backup_dir):
    users = get_user_model().objects
    first = users.create_superuser("root1", email="r1@example.com", password=None)
    second = users.create_superuser("root2", email="r2@example.com", password=None)
    obj = put(retention=PAST)

    client.force_login(first)
    page = client.get("/admin/archive/archivedobject/")
    assert page.status_code == 200 and obj.key in page.content.decode()
    client.post(
        "/admin/archive/archivedobject/", {"action": "request_deletion", "_selected_action": [obj.pk]}
    )
    request = ArchiveDeletionRequest.objects.get(archived_object=obj)
    client.post(
        "/admin/archive/archivedeletionrequest/", {"action": "approve", "_selected_action": [request.pk]}
    )
    request.refresh_from_db()
    assert request.status == "pending"  # not by the one who asked

    client.force_login(second)
    client.post(
        "/admin/archive/archivedeletionrequest/", {"action": "approve", "_selected_action": [request.pk]}
    )
    request.refresh_from_db()
    assert request.status == "approved" and request.decided_by == "staff:root2"
    assert not (primary_dir / obj.key).exists() and not (backup_dir / obj.key).exists()
