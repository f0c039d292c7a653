"""Write-once storage and the second copy (motor standard §5, life guide §7.2)."""

import pytest
from django.core.files.base import ContentFile

from epolicy.archive.models import ArchivedObject
from epolicy.archive.replication import archive_check_object
from epolicy.archive.services import archive_add_version, archive_latest, archive_read
from epolicy.archive.storage import (
    ArchiveOverwriteRefused,
    ArchiveWriteRefused,
    WriteOnceStorage,
    archive_storage,
    backup_storage,
)
from epolicy.common import crypto

from .util import put

pytestmark = pytest.mark.django_db


def test_storage_refuses_overwrite_rewrite_and_delete(primary_dir):
    obj = put()
    storage = archive_storage()
    with pytest.raises(ArchiveOverwriteRefused):
        storage.save(obj.key, ContentFile(b"something else"))
    with pytest.raises(ArchiveWriteRefused):
        storage.open(obj.key, "wb")
    with pytest.raises(ArchiveWriteRefused):
        storage.open(obj.key, "r+b")
    with pytest.raises(ArchiveWriteRefused):
        storage.delete(obj.key)
    with pytest.raises(ArchiveWriteRefused):
        backup_storage().delete(obj.key)
    assert (primary_dir / obj.key).read_bytes() == b"%PDF-1.7 archived bytes"
    assert archive_read(obj) == b"%PDF-1.7 archived bytes"


def test_storage_never_saves_under_another_name(primary_dir):
    """FileSystemStorage would quietly pick a free name; the archive refuses instead."""
    storage = archive_storage()
    assert storage.save("x/a.pdf", ContentFile(b"one")) == "x/a.pdf"
    with pytest.raises(ArchiveOverwriteRefused):
        storage.save("x/a.pdf", ContentFile(b"two"))
    assert sorted(p.name for p in (primary_dir / "x").iterdir()) == ["a.pdf"]


def test_wrapper_can_be_the_configured_backend(settings, tmp_path):
    settings.STORAGES = {
        **settings.STORAGES,
        "archive": {
            "BACKEND": "epolicy.archive.storage.WriteOnceStorage",
            "OPTIONS": {
                "backend": "django.core.files.storage.FileSystemStorage",
                "options": {"location": str(tmp_path / "wrapped")},
            },
        },
    }
    from django.core.files.storage import storages

    assert isinstance(storages["archive"], WriteOnceStorage)
    obj = put(b"wrapped")
    assert (tmp_path / "wrapped" / obj.key).read_bytes() == b"wrapped"
    with pytest.raises(ArchiveWriteRefused):
        storages["archive"].delete(obj.key)


def test_archive_put_never_overwrites_a_key_with_other_bytes(primary_dir):
    obj = put(b"original")
    # Someone registered other content under the same key (or a file sits there with other bytes).
    ArchivedObject.objects.filter(pk=obj.pk).update(sha256="0" * 64)
    with pytest.raises(ArchiveOverwriteRefused):
        put(b"original")
    assert (primary_dir / obj.key).read_bytes() == b"original"


def test_same_bytes_again_give_the_same_object():
    assert put(b"same").pk == put(b"same").pk


def test_bytes_left_by_a_rolled_back_transaction_are_adopted_only_if_identical(primary_dir):
    obj = put(b"left behind")
    key = obj.key
    ArchivedObject.objects.filter(pk=obj.pk).delete()  # the row rolled back, the file stayed
    again = put(b"left behind")
    assert again.key == key and again.sha256 == crypto.sha256_hex(b"left behind")

    ArchivedObject.objects.filter(pk=again.pk).delete()
    (primary_dir / key).chmod(0o644)
    (primary_dir / key).write_bytes(b"tampered")
    with pytest.raises(ArchiveOverwriteRefused):
        put(b"left behind")
    assert (primary_dir / key).read_bytes() == b"tampered"  # not overwritten either


def test_every_put_writes_the_second_copy(primary_dir, backup_dir):
    obj = put(b"two copies")
    assert (primary_dir / obj.key).read_bytes() == b"two copies"
    assert (backup_dir / obj.key).read_bytes() == b"two copies"
    assert obj.replicated_at is not None


def test_failed_second_copy_is_marked_and_repaired(settings, tmp_path, backup_dir, committed):
    reachable = settings.STORAGES["archive_backup"]
    (tmp_path / "not-a-directory").write_bytes(b"")
    settings.STORAGES = {
        **settings.STORAGES,
        "archive_backup": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "not-a-directory" / "backup")},
        },
    }
    with committed(execute=False) as callbacks:
        obj = put(b"primary only")
    settings.STORAGES = {**settings.STORAGES, "archive_backup": reachable}
    assert obj.replicated_at is None
    assert not (backup_dir / obj.key).exists()
    assert len(callbacks) == 1  # the repair task, queued on commit

    callbacks[0]()  # the task runs once the backup site is back
    obj.refresh_from_db()
    assert (backup_dir / obj.key).read_bytes() == b"primary only"
    assert obj.replicated_at is not None
    assert archive_check_object(object_id=obj.pk, repair=False).ok


def test_new_version_supersedes_and_the_old_one_stays(primary_dir, backup_dir):
    first = put(b"signed v1")
    second = archive_add_version(previous=first, data=b"signed v2", reason="resigned")
    first.refresh_from_db()
    assert first.superseded_by_id == second.pk
    assert archive_latest(first).pk == second.pk
    assert archive_read(first) == b"signed v1"
    assert (backup_dir / second.key).read_bytes() == b"signed v2"
