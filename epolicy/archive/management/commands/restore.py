"""`epolicy restore --from DIR`: restore a backup into an empty database and empty storages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from epolicy.archive.backup import BackupError, backup_restore


class Command(BaseCommand):
    help = (
        "从备份恢复数据库与影像资料（只写入空数据库与空存储，逐个校验 SHA-256）。"
        " / Restore a backup into an empty database and storages, verifying every object's hash."
    )
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--from", dest="from_dir", required=True, type=Path, help="a backup directory")
        parser.add_argument("--database", default="default", help="database alias (default: default)")
        parser.add_argument(
            "--allow-incomplete",
            action="store_true",
            help="restore a backup that recorded objects with no intact copy",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            result = backup_restore(
                from_dir=options["from_dir"],
                using=options["database"],
                allow_incomplete=options["allow_incomplete"],
            )
        except BackupError as exc:
            raise CommandError(str(exc), returncode=2) from exc
        self.stdout.write(
            f"已恢复 {result.vendor} 数据库；写入 {result.objects_written} 份影像副本"
            f"（{result.objects_already_present} 份已存在且一致）。"
            f" / Restored the database; wrote {result.objects_written} object copies."
        )
        if not result.ok:
            for problem in result.problems:
                self.stderr.write(self.style.ERROR(problem))
            raise CommandError("恢复后校验不一致。 / restore verification failed", returncode=1)
