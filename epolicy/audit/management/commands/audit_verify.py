"""`epolicy audit_verify`: recompute the audit chain, check its anchors; exit status 1 on any problem."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from epolicy.audit.selectors import PROBLEM_LABELS_ZH, ChainReport, audit_verify_chain
from epolicy.common import clock


class Command(BaseCommand):
    help = (
        "校验审计事件哈希链及其锚点 / Verify the keyed hash chain of the audit log and its anchors"
        " (exit status 1 on any problem)."
    )
    # A forensic check must run even when an unrelated part of the project fails its system checks.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--batch-size", type=int, default=1000, help="events read per query (default 1000)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1")
        report = audit_verify_chain(batch_size=options["batch_size"])
        if report.ok:
            self.stdout.write(
                self.style.SUCCESS(
                    f"审计链完整：已校验 {report.events_checked} 条事件。"
                    f" / Audit chain OK: {report.events_checked} events checked."
                )
            )
            self._anchor_summary(report)
            return
        self._broken(report)
        raise CommandError("审计链校验失败 / audit chain verification failed", returncode=1)

    def _anchor_summary(self, report: ChainReport) -> None:
        newest = report.newest_anchor
        if newest is None:
            if report.head_seq:
                self.stdout.write(
                    self.style.WARNING(
                        "尚无锚点：末尾事件被删除将无法发现。"
                        " / No anchors yet: a truncated tail cannot be detected (run the anchor task)."
                    )
                )
            return
        when = clock.fmt_local(newest.timestamped_at)
        utc = newest.timestamped_at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
        self.stdout.write(
            f"锚点完好：{report.anchors_checked} 个，最新锚定第 {newest.seq} 号事件"
            f"（时间戳 {when} 北京时间），"
            f"其后 {report.unanchored_events} 条事件尚未锚定。"
            f" / Anchors OK: {report.anchors_checked}, newest fixes seq {newest.seq} (timestamped"
            f" {utc} UTC); {report.unanchored_events} events after it are not anchored yet."
        )

    def _broken(self, report: ChainReport) -> None:
        label = PROBLEM_LABELS_ZH.get(report.problem or "", report.problem or "")
        self.stderr.write(
            self.style.ERROR(
                f"审计链已损坏：第 {report.first_bad_seq} 号事件处{label}；"
                f"此前 {report.events_checked} 条事件完好。"
                f" / Audit chain BROKEN at seq {report.first_bad_seq} ({report.problem}):"
                f" {report.message}; {report.events_checked} events checked intact before it."
            )
        )
        for finding in report.findings[1:]:
            where = f"第 {finding.seq} 号事件" if finding.seq is not None else "锚点"
            at = f" at seq {finding.seq}" if finding.seq is not None else ""
            self.stderr.write(
                self.style.ERROR(
                    f"另有问题：{where}处{PROBLEM_LABELS_ZH[finding.problem]}。"
                    f" / Also {finding.problem}{at}: {finding.message}."
                )
            )
        hidden = report.findings_total - len(report.findings)
        if hidden > 0:
            self.stderr.write(f"另有 {hidden} 个问题未列出。 / {hidden} more problems not listed.")
