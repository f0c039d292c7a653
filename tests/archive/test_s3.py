"""The archive on S3-compatible object storage: the real services against two buckets (moto's in-process
S3), configured exactly as config/settings.py configures them from EPOLICY_ARCHIVE_*_S3_* variables;
and the settings module itself, imported in another process with and without those variables."""

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
from django.core.files.base import ContentFile
from django.db import transaction
from moto import mock_aws

from epolicy.archive.models import ArchivedObject
from epolicy.archive.replication import archive_scrub
from epolicy.archive.services import (
    archive_deletion_approve,
    archive_deletion_request,
    archive_put,
    archive_read,
)
from epolicy.archive.storage import ArchiveOverwriteRefused, archive_storage
from epolicy.common import clock, crypto

from .util import put

pytestmark = pytest.mark.django_db

REGION = "cn-north-1"
PRIMARY_BUCKET = "epolicy-archive"
BACKUP_BUCKET = "epolicy-archive-second-copy"
PRIMARY_PREFIX = "epolicy/archive"  # the backup bucket has no prefix: both layouts are exercised
ENV = {
    "EPOLICY_ARCHIVE_S3_BUCKET": PRIMARY_BUCKET,
    "EPOLICY_ARCHIVE_S3_REGION": REGION,
    "EPOLICY_ARCHIVE_S3_ACCESS_KEY_ID": "testing",
    "EPOLICY_ARCHIVE_S3_SECRET_ACCESS_KEY": "testing",
    "EPOLICY_ARCHIVE_S3_PREFIX": f"/{PRIMARY_PREFIX}/",
    "EPOLICY_ARCHIVE_BACKUP_S3_BUCKET": BACKUP_BUCKET,
    "EPOLICY_ARCHIVE_BACKUP_S3_REGION": REGION,
    "EPOLICY_ARCHIVE_BACKUP_S3_ACCESS_KEY_ID": "testing",
    "EPOLICY_ARCHIVE_BACKUP_S3_SECRET_ACCESS_KEY": "testing",
}
PAST = dt.date(2020, 1, 1)


class Buckets:
    """Direct access to the two buckets, behind the archive's back."""

    def __init__(self, client) -> None:
        self.client = client

    @staticmethod
    def _where(location: str, key: str) -> tuple[str, str]:
        if location == "archive":
            return PRIMARY_BUCKET, f"{PRIMARY_PREFIX}/{key}"
        return BACKUP_BUCKET, key

    def get(self, location: str, key: str) -> bytes:
        bucket, name = self._where(location, key)
        return self.client.get_object(Bucket=bucket, Key=name)["Body"].read()

    def put(self, location: str, key: str, data: bytes) -> None:
        bucket, name = self._where(location, key)
        self.client.put_object(Bucket=bucket, Key=name, Body=data)

    def delete(self, location: str, key: str) -> None:
        bucket, name = self._where(location, key)
        self.client.delete_object(Bucket=bucket, Key=name)

    def exists(self, location: str, key: str) -> bool:
        bucket, name = self._where(location, key)
        listed = self.client.list_objects_v2(Bucket=bucket, Prefix=name)
        return any(entry["Key"] == name for entry in listed.get("Contents", ()))

    def grants(self, location: str, key: str) -> list[dict]:
        bucket, name = self._where(location, key)
        return self.client.get_object_acl(Bucket=bucket, Key=name)["Grants"]


@pytest.fixture
def s3(settings, monkeypatch):
    """Both archive locations in moto's S3, configured by the settings module's own function.

    Changing settings.STORAGES makes Django drop its cached storages (pytest-django sends
    setting_changed), and the archive code looks storages up on every call, so nothing keeps the
    file-system storages of tests/archive/conftest.py."""
    import config.settings as project_settings

    with mock_aws():
        client = boto3.client("s3", region_name=REGION)
        for bucket in (PRIMARY_BUCKET, BACKUP_BUCKET):
            client.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
        for name, value in ENV.items():
            monkeypatch.setenv(name, value)
        settings.STORAGES = {
            **settings.STORAGES,
            "archive": project_settings._s3_archive("EPOLICY_ARCHIVE"),
            "archive_backup": project_settings._s3_archive("EPOLICY_ARCHIVE_BACKUP"),
        }
        yield Buckets(client)


def test_put_writes_both_copies_and_registers_them(s3):
    obj = put(b"%PDF-1.7 an e-policy in S3", name="S3P1")

    assert archive_storage().inner.__class__.__name__ == "S3Storage"
    assert s3.get("archive", obj.key) == s3.get("archive_backup", obj.key) == b"%PDF-1.7 an e-policy in S3"
    obj.refresh_from_db()
    assert obj.sha256 == crypto.sha256_hex(b"%PDF-1.7 an e-policy in S3") and obj.replicated_at is not None
    # private: no grant to AllUsers or AuthenticatedUsers, only to the bucket owner
    assert {g["Grantee"]["Type"] for g in s3.grants("archive", obj.key)} == {"CanonicalUser"}
    assert archive_read(obj) == b"%PDF-1.7 an e-policy in S3"


def test_read_serves_the_second_copy_when_the_primary_was_altered_or_deleted(s3, committed):
    altered = put(b"%PDF-1.7 policy one", name="ALT")
    deleted = put(b"%PDF-1.7 policy two", name="DEL")
    s3.put("archive", altered.key, b"%PDF-1.7 policy one, quietly changed")
    s3.delete("archive", deleted.key)

    with committed(execute=True):  # the repair queued by each read runs once the request commits
        assert archive_read(altered) == b"%PDF-1.7 policy one"
        assert archive_read(deleted) == b"%PDF-1.7 policy two"

    assert s3.get("archive", altered.key) == b"%PDF-1.7 policy one"
    assert s3.get("archive", deleted.key) == b"%PDF-1.7 policy two"


def test_read_of_two_bad_copies_is_an_error_not_wrong_bytes(s3):
    obj = put(b"%PDF-1.7 policy three", name="BAD")
    s3.put("archive", obj.key, b"rot")
    s3.delete("archive_backup", obj.key)
    with pytest.raises(OSError, match="does not match its registered SHA-256 in either location"):
        archive_read(obj)


def test_write_once_in_s3(s3):
    obj = put(b"%PDF-1.7 the original", name="W1")

    # The storage never overwrites, nor saves under another name.
    with pytest.raises(ArchiveOverwriteRefused):
        archive_storage().save(obj.key, ContentFile(b"%PDF-1.7 something else"))
    assert s3.get("archive", obj.key) == b"%PDF-1.7 the original"

    # Other bytes already under the key a put would use: refused, nothing overwritten, nothing registered.
    data = b"%PDF-1.7 the next document"
    with clock.frozen_clock(clock.now()):
        key = f"evidence/{clock.local(clock.now()):%Y/%m/%d}/W2-{crypto.sha256_hex(data)[:12]}"
        s3.put("archive", key, b"bytes someone else left there")
        with pytest.raises(ArchiveOverwriteRefused, match="already exists with other content"):
            put(data, name="W2")
    assert s3.get("archive", key) == b"bytes someone else left there"
    assert not s3.exists("archive_backup", key)
    assert not ArchivedObject.objects.filter(key=key).exists()


def test_scrub_finds_a_missing_and_an_altered_copy_and_repairs_them(s3):
    missing = put(b"evidence one", name="E1")
    altered = put(b"%PDF-1.7 policy four", name="E2")
    put(b"an intact neighbour", name="E3")
    s3.delete("archive_backup", missing.key)
    s3.put("archive", altered.key, b"%PDF-1.7 policy four, altered")

    report = archive_scrub(repair=False)
    assert sorted((f.key, f.location, f.problem, f.repaired) for f in report.findings) == sorted(
        [
            (missing.key, "archive_backup", "missing", False),
            (altered.key, "archive", "altered", False),
        ]
    )
    assert not report.ok and report.objects_checked == 3 and report.orphans_found == 0

    report = archive_scrub(repair=True)
    assert report.repaired == 2 and report.ok
    assert s3.get("archive_backup", missing.key) == b"evidence one"
    assert s3.get("archive", altered.key) == b"%PDF-1.7 policy four"
    assert archive_scrub(repair=False).problems_found == 0


def test_approved_deletion_after_retention_removes_both_copies(s3, staff, committed):
    obj = put(b"expired evidence", retention=PAST, name="EXP")
    kept = put(b"still kept", retention=PAST, name="KEEP")
    request = archive_deletion_request(obj=obj, actor=staff["alice"], reason="保存期限届满")
    with committed(execute=True):
        archive_deletion_approve(request_id=request.pk, actor=staff["bob"])

    assert not s3.exists("archive", obj.key) and not s3.exists("archive_backup", obj.key)
    assert s3.exists("archive", kept.key) and s3.exists("archive_backup", kept.key)
    obj.refresh_from_db()
    assert obj.deleted_at is not None and obj.purged_at is not None
    assert archive_scrub(repair=False).ok


def test_scrub_lists_orphans_in_both_buckets_and_never_deletes_them(s3):
    put(b"registered", name="REG")
    data = b"%PDF-1.7 an e-policy whose issuance rolled back"
    with pytest.raises(RuntimeError), transaction.atomic():
        key = archive_put(data=data, kind=ArchivedObject.Kind.POLICY, name="ROLLEDBACK").key
        raise RuntimeError("the signing service went away")

    report = archive_scrub(repair=True)
    assert report.ok and report.orphans_recent == 2  # may still be a transaction in progress

    with clock.frozen_clock(clock.now() + dt.timedelta(hours=3)):
        report = archive_scrub(repair=True)
    assert not report.ok and report.orphans_found == 2 and report.orphans_recent == 0
    assert {(o.location, o.key, o.size, o.recent) for o in report.orphans} == {
        ("archive", key, len(data), False),
        ("archive_backup", key, len(data), False),
    }
    assert all(3 * 3600 - 300 < o.age_seconds < 3 * 3600 + 300 for o in report.orphans)
    assert json.dumps(report.as_json())  # the task result is stored as JSON
    assert s3.get("archive", key) == s3.get("archive_backup", key) == data


# --- the settings module, in another process ---------------------------------------------------------------
SHOW_STORAGES = """
import json, django
django.setup()
from django.core.files.storage import storages
out = {}
for alias in ("archive", "archive_backup"):
    storage = storages[alias]
    inner = getattr(storage, "inner", storage)
    out[alias] = {
        "wrapper": type(storage).__name__,
        "backend": type(inner).__name__,
        **{name: getattr(inner, name, None) for name in (
            "bucket_name", "endpoint_url", "region_name", "access_key", "secret_key", "location",
            "file_overwrite", "default_acl", "querystring_auth", "base_location",
        )},
    }
print(json.dumps(out))
"""


def settings_process(tmp_path: Path, code: str, **variables: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EPOLICY_", "AWS_"))}
    env.update(DJANGO_SETTINGS_MODULE="config.settings", EPOLICY_VAR_DIR=str(tmp_path / "var"), **variables)
    return subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_settings_configure_the_s3_wrapper_from_the_environment(tmp_path):
    done = settings_process(
        tmp_path,
        SHOW_STORAGES,
        EPOLICY_ARCHIVE_S3_BUCKET="primary-bucket",
        EPOLICY_ARCHIVE_S3_ENDPOINT_URL="https://minio.insurer.example:9000",
        EPOLICY_ARCHIVE_S3_REGION="cn-east-1",
        EPOLICY_ARCHIVE_S3_ACCESS_KEY_ID="AKPRIMARY",
        EPOLICY_ARCHIVE_S3_SECRET_ACCESS_KEY="primary-secret",
        EPOLICY_ARCHIVE_S3_PREFIX="/epolicy/archive/",
        EPOLICY_ARCHIVE_BACKUP_S3_BUCKET="second-copy-bucket",
    )
    assert done.returncode == 0, done.stderr
    storages = json.loads(done.stdout.strip().splitlines()[-1])
    assert storages["archive"] == {
        "wrapper": "WriteOnceStorage",
        "backend": "S3Storage",
        "bucket_name": "primary-bucket",
        "endpoint_url": "https://minio.insurer.example:9000",
        "region_name": "cn-east-1",
        "access_key": "AKPRIMARY",
        "secret_key": "primary-secret",
        "location": "epolicy/archive",
        "file_overwrite": False,
        "default_acl": "private",
        "querystring_auth": True,
        "base_location": None,
    }
    backup = storages["archive_backup"]
    assert (backup["wrapper"], backup["backend"], backup["bucket_name"]) == (
        "WriteOnceStorage",
        "S3Storage",
        "second-copy-bucket",
    )
    # Unset variables fall back to boto3's own chain and the provider's defaults.
    assert backup["endpoint_url"] is backup["access_key"] is backup["secret_key"] is None
    assert (backup["location"], backup["file_overwrite"], backup["default_acl"]) == ("", False, "private")


def test_settings_without_buckets_use_the_local_file_system(tmp_path):
    done = settings_process(
        tmp_path,
        SHOW_STORAGES,
        EPOLICY_ARCHIVE_DIR=str(tmp_path / "a"),
        EPOLICY_ARCHIVE_BACKUP_DIR=str(tmp_path / "b"),
    )
    assert done.returncode == 0, done.stderr
    storages = json.loads(done.stdout.strip().splitlines()[-1])
    assert storages["archive"]["backend"] == storages["archive_backup"]["backend"] == "FileSystemStorage"
    assert storages["archive"]["base_location"] == str(tmp_path / "a")
    assert storages["archive_backup"]["base_location"] == str(tmp_path / "b")


@pytest.mark.parametrize("absent", ["boto3", "storages"])
def test_a_bucket_without_the_s3_backend_installed_is_a_clear_error(tmp_path, absent):
    code = f"import sys; sys.modules[{absent!r}] = None  # as if not installed\nimport config.settings"
    done = settings_process(tmp_path, code, EPOLICY_ARCHIVE_BACKUP_S3_BUCKET="second-copy-bucket")
    assert done.returncode != 0
    message = done.stderr.strip().splitlines()[-1]
    assert message.startswith("django.core.exceptions.ImproperlyConfigured: EPOLICY_ARCHIVE_BACKUP_S3_BUCKET")
    assert f"cannot import {absent}" in message and "pip install 'epolicy[s3]'" in message
