"""`epolicy audit_verify`: recompute the whole audit chain; exit status 1 when it is broken."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from epolicy.audit.selectors import PROBLEM_LABELS_ZH, audit_verify_chain


class Command(BaseCommand):
    help = "校验审计事件哈希链 / Verify the hash chain of the audit log (exit status 1 if broken)."
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
            return
        label = PROBLEM_LABELS_ZH.get(report.problem or "", report.problem or "")
        self.stderr.write(
            self.style.ERROR(
                f"审计链已损坏：第 {report.first_bad_seq} 号事件处{label}；"
                f"此前 {report.events_checked} 条事件完好。"
                f" / Audit chain BROKEN at seq {report.first_bad_seq} ({report.problem}):"
                f" {report.message}; {report.events_checked} events checked intact before it."
            )
        )
        raise CommandError("审计链校验失败 / audit chain verification failed", returncode=1)
