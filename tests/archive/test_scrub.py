"""`epolicy archive_scrub [--repair]`: find missing or altered copies, repair from the good one."""

import datetime as dt
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import transaction

from epolicy.archive.models import ArchivedObject
from epolicy.archive.replication import archive_scrub
from epolicy.archive.services import archive_deletion_approve, archive_deletion_request
from epolicy.archive.storage import WriteOnceStorage
from epolicy.audit.models import AuditEvent
from epolicy.common import clock

from .util import put

pytestmark = pytest.mark.django_db


def tamper(path):
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def scrub_command(*args):
    """Run the command; return (exit status, stdout + stderr)."""
    from io import StringIO

    out, err = StringIO(), StringIO()
    try:
        call_command("archive_scrub", *args, stdout=out, stderr=err)
    except CommandError as exc:
        return exc.returncode, out.getvalue() + err.getvalue() + str(exc)
    return 0, out.getvalue() + err.getvalue()


def test_clean_archive_passes(db):
    objs = [put(f"document {i}".encode(), name=f"D{i}") for i in range(5)]
    report = archive_scrub(repair=False, batch_size=2)
    assert report.ok and report.objects_checked == len(objs) and report.copies_checked == 2 * len(objs)
    assert scrub_command()[0] == 0


def test_altered_primary_is_found_and_repaired_from_the_backup(primary_dir, backup_dir):
    obj = put(b"%PDF-1.7 the original policy", name="P1")
    put(b"an intact neighbour", name="P2")
    tamper(primary_dir / obj.key)

    status, output = scrub_command()
    assert status == 1
    assert "altered" in output and obj.key in output
    assert (primary_dir / obj.key).read_bytes() != b"%PDF-1.7 the original policy"  # report only

    status, output = scrub_command("--repair")
    assert status == 0, output
    assert (primary_dir / obj.key).read_bytes() == b"%PDF-1.7 the original policy"
    event = AuditEvent.objects.get(action="archive.repaired")
    assert event.data["location"] == "archive" and event.data["problem"] == "altered"
    assert archive_scrub(repair=False).ok


def test_missing_backup_is_found_and_repaired(primary_dir, backup_dir):
    obj = put(b"evidence json", name="E1")
    (backup_dir / obj.key).unlink()

    report = archive_scrub(repair=False)
    assert [(f.location, f.problem, f.repaired) for f in report.findings] == [
        ("archive_backup", "missing", False)
    ]
    assert not report.ok

    report = archive_scrub(repair=True)
    assert report.ok and report.repaired == 1
    assert (backup_dir / obj.key).read_bytes() == b"evidence json"


def test_unreplicated_object_is_marked_once_both_copies_are_good(primary_dir, backup_dir):
    obj = put(b"written before replication existed", name="OLD")
    (backup_dir / obj.key).unlink()
    ArchivedObject.objects.filter(pk=obj.pk).update(replicated_at=None)
    archive_scrub(repair=True)
    obj.refresh_from_db()
    assert obj.replicated_at is not None


def test_both_copies_bad_is_reported_loudly_and_left_alone(primary_dir, backup_dir):
    obj = put(b"the only policy we had", name="LOST")
    tamper(primary_dir / obj.key)
    (backup_dir / obj.key).unlink()
    primary_before = (primary_dir / obj.key).read_bytes()

    status, output = scrub_command("--repair")

    assert status == 1
    assert "BOTH COPIES BAD" in output and obj.key in output
    assert (primary_dir / obj.key).read_bytes() == primary_before
    assert not (backup_dir / obj.key).exists()
    assert not AuditEvent.objects.filter(action="archive.repaired").exists()
    report = archive_scrub(repair=True)
    assert [f.object_id for f in report.lost] == [obj.pk, obj.pk] and report.remaining == 2


def test_leftover_of_an_approved_deletion_is_purged(staff, primary_dir, backup_dir, committed):
    obj = put(b"expired", retention=dt.date(2020, 1, 1), name="X")
    request = archive_deletion_request(obj=obj, actor=staff["alice"], reason="期满")
    with committed(execute=False):  # approved, but the purge task never ran
        archive_deletion_approve(request_id=request.pk, actor=staff["bob"])
    assert (primary_dir / obj.key).exists()

    report = archive_scrub(repair=False)
    assert {(f.location, f.problem) for f in report.findings} == {
        ("archive", "not_purged"),
        ("archive_backup", "not_purged"),
    }
    assert archive_scrub(repair=True).ok
    assert not (primary_dir / obj.key).exists() and not (backup_dir / obj.key).exists()
    obj.refresh_from_db()
    assert obj.purged_at is not None


def test_scrub_never_resurrects_a_deleted_object(staff, primary_dir, backup_dir, committed):
    """Primary gone, backup still there, but the deletion was approved: purge, don't copy back."""
    obj = put(b"expired too", retention=dt.date(2020, 1, 1), name="Y")
    request = archive_deletion_request(obj=obj, actor=staff["alice"], reason="期满")
    with committed(execute=False):
        archive_deletion_approve(request_id=request.pk, actor=staff["bob"])
    (primary_dir / obj.key).unlink()
    archive_scrub(repair=True)
    assert not (primary_dir / obj.key).exists() and not (backup_dir / obj.key).exists()


# --- orphans: bytes in storage that no row registers ------------------------------------------------------
class PaymentFailed(Exception):
    pass


def put_then_roll_back(data: bytes, name: str) -> str:
    """archive_put inside a transaction that rolls back afterwards: the bytes stay, the row does not."""
    with pytest.raises(PaymentFailed), transaction.atomic():
        key = put(data, name=name).key
        raise PaymentFailed
    assert not ArchivedObject.objects.filter(key=key).exists()
    return key


def later(hours: float):
    return clock.frozen_clock(clock.now() + dt.timedelta(hours=hours))


def test_rolled_back_bytes_are_listed_as_orphans_and_never_deleted(primary_dir, backup_dir):
    registered = put(b"a registered neighbour", name="OK")
    key = put_then_roll_back(b"%PDF-1.7 an endorsement whose payment failed", name="RB")

    # Just written: it may belong to a transaction still running, so listed but not a problem.
    report = archive_scrub(repair=False)
    assert report.ok and report.orphans_found == 2 and report.orphans_recent == 2
    assert {(o.location, o.key, o.recent) for o in report.orphans} == {
        ("archive", key, True),
        ("archive_backup", key, True),
    }
    assert registered.key not in {o.key for o in report.orphans}

    with later(hours=2):
        report = archive_scrub(repair=True)
        status, output = scrub_command("--repair")
        json_status, json_output = scrub_command("--json")

    assert not report.ok and report.remaining == 2 and report.orphans_recent == 0
    assert report.counts[("archive", "orphan", False)] == 1
    assert report.counts[("archive_backup", "orphan", False)] == 1
    orphan = next(o for o in report.orphans if o.location == "archive")
    assert orphan.size == len(b"%PDF-1.7 an endorsement whose payment failed")
    assert 7000 < orphan.age_seconds < 7400 and orphan.modified_at is not None
    assert status == 1 and key in output and "orphan" in output and "未登记" in output
    assert "never deleted" in output
    assert json_status == 1
    listed = json.loads(json_output[: json_output.rindex("}") + 1])
    assert {(o["location"], o["key"], o["size"], o["recent"]) for o in listed["orphans"]} == {
        ("archive", key, orphan.size, False),
        ("archive_backup", key, orphan.size, False),
    }
    assert listed["orphans_found"] == 2 and listed["orphan_grace_seconds"] == 3600
    # Reported, repaired nothing, deleted nothing.
    assert (primary_dir / key).exists() and (backup_dir / key).exists()
    assert not AuditEvent.objects.filter(action="archive.repaired").exists()


def test_a_retry_adopts_the_orphan(primary_dir):
    key = put_then_roll_back(b"the same bytes again", name="RETRY")
    assert put(b"the same bytes again", name="RETRY").key == key
    report = archive_scrub(repair=False)
    assert report.ok and report.orphans_found == 0


def test_stray_files_and_tombstones(staff, primary_dir, backup_dir, committed, monkeypatch):
    """Any unregistered file is an orphan, in any directory; a deleted object's key is still registered
    (its leftover bytes are reported as not purged, not as an orphan). Keys are looked up in batches."""
    monkeypatch.setattr("epolicy.archive.orphans.KEY_BATCH", 2)
    objs = [put(f"document {i}".encode(), name=f"D{i}") for i in range(3)]
    expired = put(b"expired", retention=dt.date(2020, 1, 1), name="X")
    request = archive_deletion_request(obj=expired, actor=staff["alice"], reason="期满")
    with committed(execute=False):  # approved, but the purge task never ran
        archive_deletion_approve(request_id=request.pk, actor=staff["bob"])
    (primary_dir / "stray.txt").write_bytes(b"copied here by hand")
    (backup_dir / "evidence" / "misc").mkdir(parents=True)
    (backup_dir / "evidence" / "misc" / "left-over").write_bytes(b"?")

    with later(hours=25):
        report = archive_scrub(repair=False)

    assert sorted((o.location, o.key) for o in report.orphans) == [
        ("archive", "stray.txt"),
        ("archive_backup", "evidence/misc/left-over"),
    ]
    assert {o.key for o in report.orphans}.isdisjoint({o.key for o in [*objs, expired]})
    assert {(f.location, f.problem) for f in report.findings} == {
        ("archive", "not_purged"),
        ("archive_backup", "not_purged"),
    }
    assert report.orphans[0].describe().endswith("stray.txt，19 字节，已存在 1 天")


def test_empty_locations_have_no_orphans(db, primary_dir, backup_dir):
    assert not primary_dir.exists() and not backup_dir.exists()
    report = archive_scrub(repair=False)
    assert report.ok and report.orphans_found == 0


def test_a_location_that_cannot_be_listed_is_a_problem(primary_dir, monkeypatch):
    put(b"fine", name="F")

    def refuse(self, path):
        if self.inner.location.endswith("archive-backup"):
            raise PermissionError("s3:ListBucket denied")
        return self.inner.listdir(path)

    monkeypatch.setattr(WriteOnceStorage, "listdir", refuse)
    status, output = scrub_command()
    assert status == 1 and "unlistable" in output and "archive_backup" in output
    assert "--repair" not in output  # repair cannot help with that


def test_audit_anchors_are_not_orphans(pki, primary_dir, backup_dir):
    """The audit log's anchors live beside the archive's objects, unregistered by design."""
    from epolicy.anchoring.anchor import audit_anchor
    from epolicy.audit.services import audit_record

    audit_record(action="test.event", actor="test", subject_type="t", subject_id="1")
    assert audit_anchor().status == "anchored"
    assert list((primary_dir / "audit-anchors").iterdir()) and list((backup_dir / "audit-anchors").iterdir())
    with clock.frozen_clock(clock.now() + dt.timedelta(days=2)):
        report = archive_scrub(repair=False)
    assert report.ok and report.orphans_found == 0
