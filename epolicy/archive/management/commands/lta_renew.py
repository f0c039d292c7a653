"""`epolicy lta_renew [--dry-run] [--within-days N]`: renew archive timestamps (PAdES B-LTA) due soon."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from epolicy.archive import lta_renewal as lta


class Command(BaseCommand):
    help = (
        "Add fresh validation data and a new document timestamp to every archived e-policy and signed "
        "e-application whose last archive timestamp's TSA certificate expires within N days."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="only list what is due")
        parser.add_argument(
            "--within-days",
            type=int,
            default=None,
            help=f"renewal window in days (default LTA_RENEW_BEFORE_DAYS = {settings.LTA_RENEW_BEFORE_DAYS})",
        )

    def handle(
        self, *args: Any, dry_run: bool = False, within_days: int | None = None, **options: Any
    ) -> None:
        verbose = int(options.get("verbosity", 1)) > 1 or dry_run
        summary = lta.renew_archived(
            within_days=within_days,
            dry_run=dry_run,
            progress=self.stdout.write if verbose else None,
        )
        line = (
            f"checked {summary.checked}, due {summary.due}, "
            + ("(dry run: nothing changed)" if dry_run else f"renewed {summary.renewed}, ")
            + ("" if dry_run else f"skipped {summary.skipped}, failed {summary.failed}")
        )
        style = self.style.ERROR if summary.failed or (summary.errors and not dry_run) else self.style.SUCCESS
        self.stdout.write(style(line))
        for error in summary.errors:
            self.stderr.write(error)
