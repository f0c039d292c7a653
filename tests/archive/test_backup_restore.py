"""`epolicy backup` / `epolicy restore` and the restore drill: back up, restore into a fresh database and
fresh storages in another process, and prove there that everything is present and intact."""

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from epolicy.archive.backup import BackupError, _require, backup_restore
from epolicy.archive.models import ArchivedObject
from epolicy.archive.services import archive_add_version, archive_deletion_approve, archive_deletion_request
from epolicy.audit.models import AuditEvent
from epolicy.policies.models import Policy

from .util import put

on_sqlite = pytest.mark.skipif("connection.vendor != 'sqlite'", reason="the SQLite branch")
on_postgresql = pytest.mark.skipif("connection.vendor != 'postgresql'", reason="the PostgreSQL branch")


def epolicy(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "epolicy", *args], env=env, capture_output=True, text=True, timeout=180
    )


def fresh_env(root: Path, database_url: str) -> dict[str, str]:
    from django.conf import settings

    from config.secrets import environment_of

    env = {k: v for k, v in os.environ.items() if not k.startswith("EPOLICY_")}
    return {
        **env,
        # A restore elsewhere needs this installation's keys (kept apart from the backup, never in it).
        **environment_of(settings),
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "EPOLICY_DATABASE_URL": database_url,
        "EPOLICY_VAR_DIR": str(root / "var"),
        "EPOLICY_ARCHIVE_DIR": str(root / "archive"),
        "EPOLICY_ARCHIVE_BACKUP_DIR": str(root / "archive-backup"),
    }


def make_archive(make_policy, staff, committed) -> dict:
    """Policies, versions, evidence and one object deleted after its retention date."""
    policies = [
        make_policy(start=dt.date(2025, 1, 1), end=dt.date(2025, 12, 31), seed=11),
        make_policy(start=dt.date(2025, 2, 1), end=dt.date(2028, 1, 31), seed=12),
    ]
    first = ArchivedObject.objects.of(policies[0], policies[0].application).first()
    archive_add_version(previous=first, data=b"a renewed archive timestamp", reason="lta")
    expired = put(b"expired evidence", retention=dt.date(2020, 1, 1), name="EXPIRED")
    request = archive_deletion_request(obj=expired, actor=staff["alice"], reason="期满")
    with committed(execute=True):
        archive_deletion_approve(request_id=request.pk, actor=staff["bob"])
    from epolicy.anchoring.anchor import audit_anchor

    assert audit_anchor().status == "anchored"  # the audit log's head, anchored outside the database
    return {
        "objects": {o.key: (o.sha256, o.deleted_at is not None) for o in ArchivedObject.objects.all()},
        "policies": sorted(p.number for p in Policy.objects.all()),
        "audit_events": AuditEvent.objects.count(),
        "expired_key": expired.key,
    }


SNAPSHOT = (
    "import json; from epolicy.archive.models import ArchivedObject as A; "
    "from epolicy.policies.models import Policy as P; from epolicy.audit.models import AuditEvent as E; "
    "print(json.dumps({'objects': {o.key: [o.sha256, o.deleted_at is not None] for o in A.objects.all()}, "
    "'policies': sorted(P.objects.values_list('number', flat=True)), 'audit_events': E.objects.count()}))"
)


def drill(tmp_path: Path, primary_dir: Path, before: dict, target_url: str, bad_target_url: str) -> None:
    backup = tmp_path / "backup"
    call_command("backup", "--out", str(backup))
    manifest = json.loads((backup / "manifest.json").read_text())
    assert manifest["complete"] and manifest["vendor"] == connection.vendor
    live = {k: sha for k, (sha, deleted) in before["objects"].items() if not deleted}
    assert {e["key"]: e["sha256"] for e in manifest["objects"]} == live
    assert before["expired_key"] not in {e["key"] for e in manifest["objects"]}
    assert [a["key"].split("/")[0] for a in manifest["anchors"]] == ["audit-anchors"]

    # Restoring over a database that holds data is refused.
    with pytest.raises(BackupError, match="不是空的"):
        backup_restore(from_dir=backup)

    # A backup whose object no longer matches its manifest is refused before anything is written.
    damaged = tmp_path / "damaged"
    shutil.copytree(backup, damaged)
    victim = damaged / "archive" / manifest["objects"][0]["key"]
    victim.write_bytes(victim.read_bytes() + b" tampered")
    bad_env = fresh_env(tmp_path / "bad", bad_target_url)
    refused = epolicy(bad_env, "restore", "--from", str(damaged))
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert manifest["objects"][0]["key"] in refused.stderr
    assert not (tmp_path / "bad" / "archive").exists()

    # The drill proper, in another process, on a fresh database and fresh storages.
    root = tmp_path / "restored"
    env = fresh_env(root, target_url)
    restored = epolicy(env, "restore", "--from", str(backup))
    assert restored.returncode == 0, restored.stdout + restored.stderr

    scrub = epolicy(env, "archive_scrub", "--json")
    assert scrub.returncode == 0, scrub.stdout + scrub.stderr
    report = json.loads(scrub.stdout)
    assert report["ok"] and report["objects_checked"] == len(before["objects"])
    assert report["copies_checked"] == 2 * len(before["objects"])

    audit = epolicy(env, "audit_verify")
    assert audit.returncode == 0, audit.stdout + audit.stderr

    snapshot = epolicy(env, "shell", "--no-imports", "-c", SNAPSHOT)
    assert snapshot.returncode == 0, snapshot.stderr
    after = json.loads(snapshot.stdout.strip().splitlines()[-1])
    assert after["objects"] == {k: list(v) for k, v in before["objects"].items()}  # tombstone included
    assert after["policies"] == before["policies"]
    assert after["audit_events"] == before["audit_events"] + 1  # + archive.restored
    for key in [*live, *(a["key"] for a in manifest["anchors"])]:
        original = (primary_dir / key).read_bytes()
        assert (root / "archive" / key).read_bytes() == original
        assert (root / "archive-backup" / key).read_bytes() == original

    # The restored installation can itself be backed up (SQLite: a WAL-mode file in use).
    again = epolicy(env, "backup", "--out", str(tmp_path / "backup-again"))
    assert again.returncode == 0, again.stdout + again.stderr
    second = json.loads((tmp_path / "backup-again" / "manifest.json").read_text())
    assert second["objects"] == manifest["objects"]

    # And the drill can fail: damage both restored copies of one object.
    key = next(iter(live))
    (root / "archive" / key).write_bytes(b"rot")
    (root / "archive-backup" / key).unlink()
    broken = epolicy(env, "archive_scrub", "--repair")
    assert broken.returncode == 1
    assert "BOTH COPIES BAD" in broken.stderr and key in broken.stderr


@on_sqlite
@pytest.mark.django_db(transaction=True)
def test_restore_drill_sqlite(tmp_path, primary_dir, make_policy, staff, committed, pki):
    before = make_archive(make_policy, staff, committed)
    drill(
        tmp_path,
        primary_dir,
        before,
        target_url=f"sqlite:///{tmp_path / 'restored.sqlite3'}",
        bad_target_url=f"sqlite:///{tmp_path / 'refused.sqlite3'}",
    )


@pytest.fixture
def fresh_pg_databases():
    """Two empty PostgreSQL databases next to the test database, dropped afterwards."""
    import psycopg

    s = connection.settings_dict
    names = [f"epolicy_drill_{uuid.uuid4().hex[:10]}" for _ in range(2)]
    params = {"host": s["HOST"], "port": s["PORT"] or None, "user": s["USER"], "password": s["PASSWORD"]}
    params = {k: v for k, v in params.items() if v}
    with psycopg.connect(dbname="postgres", autocommit=True, **params) as admin:
        for name in names:
            admin.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
    auth = s["USER"] + (f":{s['PASSWORD']}" if s["PASSWORD"] else "")
    yield [f"postgresql://{auth}@{s['HOST'] or 'localhost'}:{s['PORT'] or 5432}/{n}" for n in names]
    with psycopg.connect(dbname="postgres", autocommit=True, **params) as admin:
        for name in names:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@on_postgresql
@pytest.mark.django_db(transaction=True)
def test_restore_drill_postgresql(
    tmp_path, primary_dir, make_policy, staff, committed, fresh_pg_databases, pki
):
    if shutil.which("pg_dump") is None or shutil.which("pg_restore") is None:
        pytest.skip("pg_dump/pg_restore are not installed on this machine")
    before = make_archive(make_policy, staff, committed)
    drill(tmp_path, primary_dir, before, *fresh_pg_databases)


def test_missing_pg_dump_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(BackupError, match="postgresql-client"):
        _require("pg_dump")


@pytest.mark.django_db
def test_backup_refuses_a_non_empty_directory_and_an_open_transaction(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "something").write_text("x")
    with pytest.raises(CommandError, match="不是空的") as exc:
        call_command("backup", "--out", str(tmp_path / "out"))
    assert exc.value.returncode == 2
    with pytest.raises(BackupError, match="outside a database transaction"):
        from epolicy.archive.backup import backup_create

        backup_create(out_dir=tmp_path / "other")
