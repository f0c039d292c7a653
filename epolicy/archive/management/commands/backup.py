"""`epolicy backup --out DIR`: a consistent backup of the database and the archive."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from epolicy.archive.backup import BackupError, backup_create


class Command(BaseCommand):
    help = (
        "备份数据库与影像资料（含 SHA-256 清单）到一个空目录。"
        " / Back up the database and every archived object (with a SHA-256 manifest) into an empty directory."
    )
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--out", required=True, type=Path, help="an empty or new directory")
        parser.add_argument("--database", default="default", help="database alias (default: default)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            result = backup_create(out_dir=options["out"], using=options["database"])
        except BackupError as exc:
            raise CommandError(str(exc), returncode=2) from exc
        self.stdout.write(
            f"数据库（{result.vendor}）与 {result.objects} 个影像对象（{result.bytes} 字节）"
            f"已备份到 {result.out_dir}。"
            f" / Backed up the {result.vendor} database and {result.objects} objects to {result.out_dir}."
        )
        if not result.complete:
            for problem in result.problems:
                self.stderr.write(self.style.ERROR(problem))
            raise CommandError(
                f"备份不完整：{len(result.problems)} 个对象两处副本均损坏。 / backup incomplete", returncode=1
            )
