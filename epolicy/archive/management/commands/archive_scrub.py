"""`epolicy archive_scrub [--repair]`: re-hash every archived object in both locations, and list the
objects in either location that the register does not know (orphans, never deleted)."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from epolicy.archive.replication import PROBLEM_LABELS, ScrubReport, archive_scrub
from epolicy.archive.storage import LOCATION_LABELS


class Command(BaseCommand):
    help = (
        "影像完整性巡检：重新计算两处存储中每个对象的 SHA-256，报告缺失或被篡改的副本及未登记的对象；"
        "--repair 用完好的副本修复（未登记的对象只报告，从不删除）。"
        " / Re-hash every archived object in both locations and list unregistered objects (never"
        " deleted); exit status 1 if problems remain."
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
            self._write_text(report)
        for finding in report.lost:
            self.stderr.write(
                self.style.ERROR(
                    f"两处副本均损坏，无法自动修复 / BOTH COPIES BAD, not repaired: {finding.describe()}"
                    f" (observed sha256 {finding.observed_sha256 or '-'})"
                )
            )
        if not report.ok:
            raise CommandError(_failure_message(report), returncode=1)
        if not options["json"]:
            self.stdout.write(
                self.style.SUCCESS(
                    f"全部完好（修复 {report.repaired} 处）。 / All intact ({report.repaired} repaired)."
                )
            )

    def _write_text(self, report: ScrubReport) -> None:
        self.stdout.write(
            f"已检查 {report.objects_checked} 个对象、{report.copies_checked} 份副本。"
            f" / Checked {report.objects_checked} objects, {report.copies_checked} copies."
        )
        for (location, problem, repaired), count in sorted(report.counts.items()):
            line = (
                f"  {LOCATION_LABELS[location]} ({location}) {PROBLEM_LABELS[problem]} {problem}:"
                f" {count} — {_state(problem, repaired)}"
            )
            self.stdout.write(self.style.WARNING(line) if repaired else self.style.ERROR(line))
        for finding in report.findings:
            if finding not in report.lost:
                self.stdout.write("    " + finding.describe())
        self._write_orphans(report)

    def _write_orphans(self, report: ScrubReport) -> None:
        if not report.orphans_found:
            return
        minutes = int(report.orphan_grace.total_seconds() // 60)
        self.stdout.write(
            f"  未登记的对象 {report.orphans_found} 个，其中 {report.orphans_recent} 个不足 {minutes} 分钟"
            f"（可能属于仍在进行的事务，不计为问题）；未登记的对象从不自动删除。"
            f" / {report.orphans_found} unregistered objects (orphans), {report.orphans_recent} younger"
            f" than {minutes} min (may belong to a transaction in progress, not counted as problems);"
            f" orphans are never deleted automatically."
        )
        for orphan in report.orphans:
            line = "    " + orphan.describe()
            self.stdout.write(line if orphan.recent else self.style.ERROR(line))


def _state(problem: str, repaired: bool) -> str:
    if repaired:
        return "已修复 repaired"
    if problem == "orphan":
        return "须人工核查 needs a person (never deleted automatically)"
    return "未修复 NOT repaired"


def _failure_message(report: ScrubReport) -> str:
    orphans = sum(n for (_loc, problem, _fixed), n in report.counts.items() if problem == "orphan")
    unlistable = sum(n for (_loc, problem, _fixed), n in report.counts.items() if problem == "unlistable")
    hints = []
    if not report.repair and report.remaining > orphans + unlistable:
        hints.append("可加 --repair 修复只有一处损坏的对象")
    if orphans:
        hints.append(
            f"{orphans} 个未登记的对象须人工核查：确认其不属于任何保单或投保单后，由运维人员在存储中处理"
            "（见 docs/archive.md）"
        )
    hint = "；" + "；".join(hints) if hints else ""
    return (
        f"影像巡检发现 {report.remaining} 个未解决的问题{hint}。"
        f" / archive scrub: {report.remaining} problems remain"
        + (f" ({orphans} unregistered objects to be checked by a person)" if orphans else "")
    )
