"""`epolicy backup` / `epolicy restore`: the database and the archive, consistent with each other.

A backup directory holds the database (SQLite: a copy made with SQLite's online backup API from the
live connection; PostgreSQL: `pg_dump -Fc` run on a snapshot exported by our own transaction), every
archived object under `archive/<key>`, and `manifest.json` listing each object's key, SHA-256 and size.
The manifest is read from the same snapshot as the database dump, so the two always agree: an object
added after the snapshot is not in either, and every registered object is (objects are written to
storage before their row commits). The backup directory is a local path given by the operator; the
archive itself is read and written only through the storage API.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterable, Iterator
from pathlib import Path, PurePosixPath
from typing import Any

from django.core.files import File
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Max

from epolicy.audit.models import AuditEvent
from epolicy.audit.services import audit_record
from epolicy.common import clock

from .models import ArchivedObject
from .storage import CHUNK, LOCATION_LABELS, PRIMARY, hash_stored, location_storage, read_chunks

logger = logging.getLogger("epolicy.archive")

MANIFEST = "manifest.json"
FORMAT = 1
ARCHIVE_DIR = "archive"
Row = tuple[int, str, str, int]  # id, key, sha256, size


class BackupError(Exception):
    """A backup or restore that cannot go on; the message says why and what to do."""


@dataclasses.dataclass
class BackupResult:
    out_dir: Path
    vendor: str
    objects: int
    bytes: int
    problems: list[str]

    @property
    def complete(self) -> bool:
        return not self.problems


@dataclasses.dataclass
class RestoreResult:
    vendor: str
    objects_written: int
    objects_already_present: int
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems


# --- helpers ---------------------------------------------------------------------------------------------
def _require(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        raise BackupError(
            f"找不到 {tool}：PostgreSQL 数据库的备份与恢复需要 PostgreSQL 客户端工具（Debian："
            f"apt-get install postgresql-client，主版本不低于数据库服务器），请安装后重试。"
            f" / {tool} is not on PATH: install the PostgreSQL client tools (same major version as the"
            f" server or newer)."
        )
    return path


def _pg_args(connection: BaseDatabaseWrapper) -> tuple[list[str], dict[str, str]]:
    s = connection.settings_dict
    args = ["--no-password", f"--dbname={s['NAME']}"]
    if s.get("HOST"):
        args.append(f"--host={s['HOST']}")
    if s.get("PORT"):
        args.append(f"--port={s['PORT']}")
    if s.get("USER"):
        args.append(f"--username={s['USER']}")
    env = dict(os.environ)
    if s.get("PASSWORD"):
        env["PGPASSWORD"] = s["PASSWORD"]  # the environment, never the command line
    return args, env


def _run(args: list[str], env: dict[str, str]) -> None:
    # A fixed program with arguments built from settings; no shell.
    done = subprocess.run(args, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    if done.returncode != 0:
        raise BackupError(f"{Path(args[0]).name} failed (exit {done.returncode}): {done.stderr.strip()}")


def _safe_relative(key: str) -> PurePosixPath:
    path = PurePosixPath(key)
    if not key or path.is_absolute() or ".." in path.parts or "\\" in key or key != str(path):
        raise BackupError(f"refusing an archive key that is not a plain relative path: {key!r}")
    return path


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


# --- backup ----------------------------------------------------------------------------------------------
def backup_create(*, out_dir: Path, using: str = DEFAULT_DB_ALIAS) -> BackupResult:
    """Write a consistent backup of the database and the archive into an empty directory."""
    out_dir = Path(out_dir)
    if out_dir.exists() and any(out_dir.iterdir()):
        raise BackupError(f"备份目录 {out_dir} 不是空的；请指定一个新的或空的目录。 / {out_dir} is not empty")
    connection = connections[using]
    if connection.in_atomic_block:
        raise BackupError("backup must run outside a database transaction")
    out_dir.mkdir(parents=True, exist_ok=True)
    if connection.vendor == "sqlite":
        db_name, rows, audit_head = _sqlite_backup(connection, out_dir)
    elif connection.vendor == "postgresql":
        db_name, rows, audit_head = _pg_backup(connection, out_dir)
    else:
        raise BackupError(f"backup of a {connection.vendor} database is not supported")
    entries: list[dict[str, Any]] = []
    problems: list[str] = []
    total = 0
    for object_id, key, sha256, size in rows:
        target = out_dir / ARCHIVE_DIR / _safe_relative(key)
        source = _copy_out(key, sha256, target)
        if source is None:
            problems.append(f"object {object_id} {key}: no intact copy in either location")
            continue
        entries.append({"id": object_id, "key": key, "sha256": sha256, "size": size})
        total += size
    anchors = _copy_anchors(out_dir, audit_head)
    db_path = out_dir / db_name
    manifest = {
        "format": FORMAT,
        "created_at": clock.now().isoformat(),
        "vendor": connection.vendor,
        "database": {"file": db_name, "sha256": _file_sha256(db_path), "size": db_path.stat().st_size},
        "complete": not problems,
        "problems": problems,
        "objects": entries,
        # The audit log's anchors up to the database's last event (not registered objects: see audit.md).
        "anchors": anchors,
    }
    tmp = out_dir / (MANIFEST + ".part")
    tmp.write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")
    tmp.replace(out_dir / MANIFEST)  # the manifest appears last: its presence means the backup finished
    for problem in problems:
        logger.error("backup: %s", problem)
    return BackupResult(out_dir, connection.vendor, len(entries), total, problems)


def _copy_anchors(out_dir: Path, audit_head: int) -> list[dict[str, Any]]:
    """Copy the audit anchors of events the backed-up database holds (an anchor written after the
    snapshot would name an event the restored database lacks, and read as a truncation)."""
    from .storage import AUDIT_ANCHOR_PREFIX as ANCHOR_PREFIX

    names: set[str] = set()
    for location in LOCATION_LABELS:
        try:
            _dirs, files = location_storage(location).listdir(ANCHOR_PREFIX)
        except FileNotFoundError:
            continue
        names.update(files)
    copied = []
    for name in sorted(names):
        seq_text = name.split("-", 1)[0]
        if not seq_text.isdigit() or int(seq_text) > audit_head:
            continue
        key = f"{ANCHOR_PREFIX}/{name}"
        target = out_dir / ARCHIVE_DIR / _safe_relative(key)
        for location in LOCATION_LABELS:
            storage = location_storage(location)
            if storage.exists(key):
                sha256 = hash_stored(storage, key)
                if _copy_out(key, sha256, target) is not None:
                    copied.append({"key": key, "sha256": sha256, "size": target.stat().st_size})
                    break
    return copied


def _sqlite_backup(connection: BaseDatabaseWrapper, out_dir: Path) -> tuple[str, list[Row], int]:
    name = "database.sqlite3"
    connection.ensure_connection()
    with contextlib.closing(sqlite3.connect(out_dir / name)) as dest:
        connection.connection.backup(dest)  # a consistent snapshot of the live database
        dest.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
    table = ArchivedObject._meta.db_table
    events = AuditEvent._meta.db_table
    with contextlib.closing(sqlite3.connect(out_dir / name)) as copy:
        rows = copy.execute(
            f'SELECT id, "key", sha256, size FROM "{table}" WHERE deleted_at IS NULL ORDER BY id'  # noqa: S608
        ).fetchall()
        head = copy.execute(f'SELECT coalesce(max(seq), 0) FROM "{events}"').fetchone()[0]  # noqa: S608
    return name, rows, int(head)


def _pg_backup(connection: BaseDatabaseWrapper, out_dir: Path) -> tuple[str, list[Row], int]:
    pg_dump = _require("pg_dump")
    name = "database.dump"
    args, env = _pg_args(connection)
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        cursor.execute("SELECT pg_export_snapshot()")
        snapshot = cursor.fetchone()[0]
        # pg_dump sees exactly what this transaction sees, and so does the manifest query below.
        _run([pg_dump, "--format=custom", f"--snapshot={snapshot}", f"--file={out_dir / name}", *args], env)
        rows = list(
            ArchivedObject.objects.using(connection.alias)
            .filter(deleted_at__isnull=True)
            .order_by("pk")
            .values_list("pk", "key", "sha256", "size")
        )
        head = AuditEvent.objects.using(connection.alias).aggregate(m=Max("seq"))["m"] or 0
    return name, rows, int(head)


def _copy_out(key: str, sha256: str, target: Path) -> str | None:
    """Copy one object out of the archive, from the first location whose copy is intact."""
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(target.name + ".part")
    for location in LOCATION_LABELS:
        digest = hashlib.sha256()
        try:
            with part.open("wb") as dst:
                for chunk in read_chunks(location_storage(location), key):
                    digest.update(chunk)
                    dst.write(chunk)
        except Exception:
            logger.warning("backup: cannot read %s from %s", key, location, exc_info=True)
            continue
        if digest.hexdigest() == sha256:
            part.replace(target)
            if location != PRIMARY:
                logger.warning("backup: %s copied from %s (the primary copy is bad)", key, location)
            return location
    part.unlink(missing_ok=True)
    return None


# --- restore ---------------------------------------------------------------------------------------------
def _read_manifest(from_dir: Path) -> dict[str, Any]:
    path = from_dir / MANIFEST
    if not path.is_file():
        raise BackupError(
            f"{from_dir} 中没有 {MANIFEST}：不是完整的备份。 / no manifest: not a finished backup"
        )
    manifest: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    if manifest.get("format") != FORMAT:
        raise BackupError(f"unsupported backup format {manifest.get('format')!r}")
    return manifest


def _check_backup_files(from_dir: Path, entries: Iterable[dict[str, Any]]) -> list[str]:
    problems = []
    for entry in entries:
        path = from_dir / ARCHIVE_DIR / _safe_relative(entry["key"])
        if not path.is_file():
            problems.append(f"{entry['key']}: missing from the backup")
        elif path.stat().st_size != entry["size"] or _file_sha256(path) != entry["sha256"]:
            problems.append(f"{entry['key']}: does not match the manifest's SHA-256")
    return problems


def _storage_conflicts(entries: Iterable[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any], bool]]:
    """(location, entry, already present and identical) for each object and location; raises on a
    different object under the same key (the target storage must be empty, or hold these very bytes)."""
    for entry in entries:
        for location in LOCATION_LABELS:
            storage = location_storage(location)
            present = storage.exists(entry["key"])
            if present and hash_stored(storage, entry["key"]) != entry["sha256"]:
                raise BackupError(
                    f"目标存储 {location} 中已有不同内容的 {entry['key']}：恢复只写入空的存储。"
                    f" / {location} already holds other content under {entry['key']}"
                )
            yield location, entry, present


def backup_restore(
    *, from_dir: Path, using: str = DEFAULT_DB_ALIAS, allow_incomplete: bool = False
) -> RestoreResult:
    """Restore a backup into an empty database and empty storages, verifying every object's hash."""
    from_dir = Path(from_dir)
    manifest = _read_manifest(from_dir)
    connection = connections[using]
    if manifest["vendor"] != connection.vendor:
        raise BackupError(f"this backup is of a {manifest['vendor']} database, not {connection.vendor}")
    if not manifest["complete"] and not allow_incomplete:
        raise BackupError(
            "备份不完整（备份时有对象两处副本均损坏）；确认后可加 --allow-incomplete 恢复其余部分。"
            f" / incomplete backup: {'; '.join(manifest['problems'][:5])}"
        )
    db_file = from_dir / manifest["database"]["file"]
    if not db_file.is_file() or _file_sha256(db_file) != manifest["database"]["sha256"]:
        raise BackupError(
            f"数据库备份文件 {db_file.name} 缺失或与清单的 SHA-256 不符。 / database file damaged"
        )
    entries = manifest["objects"]
    anchors = manifest.get("anchors", [])
    problems = _check_backup_files(from_dir, [*entries, *anchors])
    if problems:
        raise BackupError("备份中的影像文件与清单不符，未做任何恢复：" + "；".join(problems[:10]))
    tables = connection.introspection.table_names()
    if tables:
        raise BackupError(
            f"目标数据库不是空的（已有 {len(tables)} 张表）：恢复只写入空数据库。"
            " / the target database is not empty"
        )

    written = present = 0
    for location, entry, exists in list(_storage_conflicts([*entries, *anchors])):
        if exists:
            present += 1
            continue
        path = from_dir / ARCHIVE_DIR / _safe_relative(entry["key"])
        with path.open("rb") as fh:
            location_storage(location).save(entry["key"], File(fh, name=entry["key"]))
        written += 1

    if connection.vendor == "sqlite":
        connection.ensure_connection()
        with contextlib.closing(sqlite3.connect(db_file)) as src:
            src.backup(connection.connection)
    else:
        pg_restore = _require("pg_restore")
        args, env = _pg_args(connection)
        _run([pg_restore, "--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction", *args,
              str(db_file)], env)  # fmt: skip
    connection.close()

    problems = _cross_check(entries, using)
    with transaction.atomic(using=using):
        ArchivedObject.objects.using(using).filter(
            deleted_at__isnull=True, replicated_at__isnull=True
        ).update(replicated_at=clock.now())
        audit_record(
            action="archive.restored",
            actor="system:restore",
            subject_type="backup",
            subject_id=str(manifest["created_at"]),
            data={
                "objects": len(entries),
                "database_sha256": manifest["database"]["sha256"],
                "problems": len(problems),
            },
        )
    return RestoreResult(connection.vendor, written, present, problems)


def _cross_check(entries: list[dict[str, Any]], using: str) -> list[str]:
    """The restored register and the manifest must name the same objects with the same hashes."""
    expected = {e["key"]: e["sha256"] for e in entries}
    problems = []
    registered = ArchivedObject.objects.using(using).filter(deleted_at__isnull=True)
    for key, sha256 in registered.values_list("key", "sha256").iterator():
        if expected.pop(key, None) != sha256:
            problems.append(f"{key}: registered in the database but not in the manifest (or another hash)")
    problems.extend(f"{key}: in the manifest but not registered in the database" for key in expected)
    return problems
