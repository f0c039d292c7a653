"""`epolicy archive_scrub [--repair]`: re-hash every archived object in both locations."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from epolicy.archive.replication import PROBLEM_LABELS, archive_scrub
from epolicy.archive.storage import LOCATION_LABELS


class Command(BaseCommand):
    help = (
        "影像完整性巡检：重新计算两处存储中每个对象的 SHA-256，报告缺失或被篡改的副本；"
        "--repair 用完好的副本修复。"
        " / Re-hash every archived object in both locations; exit status 1 if problems remain."
    )
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--repair",
            action="store_true",
            help="copy the good copy over the bad one when exactly one copy matches the registered SHA-256",
        )
        parser.add_argument("--batch-size", type=int, default=500, help="rows read per query (default 500)")
        parser.add_argument("--json", action="store_true", help="print the report as JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1")
        report = archive_scrub(repair=options["repair"], batch_size=options["batch_size"])
        if options["json"]:
            self.stdout.write(json.dumps(report.as_json(), ensure_ascii=False, indent=1))
        else:
            self.stdout.write(
                f"已检查 {report.objects_checked} 个对象、{report.copies_checked} 份副本。"
                f" / Checked {report.objects_checked} objects, {report.copies_checked} copies."
            )
            for (location, problem, repaired), count in sorted(report.counts.items()):
                state = "已修复 repaired" if repaired else "未修复 NOT repaired"
                line = (
                    f"  {LOCATION_LABELS[location]} ({location}) {PROBLEM_LABELS[problem]} {problem}:"
                    f" {count} — {state}"
                )
                self.stdout.write(self.style.WARNING(line) if repaired else self.style.ERROR(line))
            for finding in report.findings:
                if finding not in report.lost:
                    self.stdout.write("    " + finding.describe())
        for finding in report.lost:
            self.stderr.write(
                self.style.ERROR(
                    f"两处副本均损坏，无法自动修复 / BOTH COPIES BAD, not repaired: {finding.describe()}"
                    f" (observed sha256 {finding.observed_sha256 or '-'})"
                )
            )
        if not report.ok:
            hint = "" if report.repair else "；可加 --repair 修复只有一处损坏的对象"
            raise CommandError(
                f"影像巡检发现 {report.remaining} 个未解决的问题{hint}。"
                f" / archive scrub: {report.remaining} problems remain",
                returncode=1,
            )
        if not options["json"]:
            self.stdout.write(
                self.style.SUCCESS(
                    f"全部完好（修复 {report.repaired} 处）。 / All intact ({report.repaired} repaired)."
                )
            )
