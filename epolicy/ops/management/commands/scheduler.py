from __future__ import annotations

import logging
import time
from typing import Any

from django.core.management.base import BaseCommand
from django.db import close_old_connections, connection

from epolicy.ops.outbox import outbox_sweep
from epolicy.ops.schedule import JOBS, schedule_due

log = logging.getLogger("epolicy.scheduler")


class Command(BaseCommand):
    help = (
        "Queue the periodic jobs (LTA renewal, CRL refresh, archive scrub, ...) when they are due, and "
        "sweep the outbox (re-run side effects that a crash or a failure left undone)."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--once", action="store_true", help="check once and exit")
        parser.add_argument("--interval", type=float, default=10, help="seconds between checks")

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write("jobs: " + ", ".join(f"{j.name} every {j.every}" for j in JOBS))
        while True:
            # As Django does before each request: a connection the database dropped (restart,
            # failover) is replaced here, or every later round would fail on it. (Not inside a test's
            # transaction, which must keep its connection.)
            if not connection.in_atomic_block:
                close_old_connections()
            try:
                for name in schedule_due():
                    self.stdout.write(f"queued {name}")
                report = outbox_sweep()
                if report.dispatched or report.rearmed or report.alerted:
                    self.stdout.write(
                        f"outbox: dispatched {report.dispatched}, taken over {report.taken_over}, "
                        f"re-armed {report.rearmed}, alerts {report.alerted}"
                    )
            except Exception:
                # A database that is briefly unreachable must not end the scheduler.
                log.exception("scheduler: this round failed; trying again next round")
                if options["once"]:
                    raise
            if options["once"]:
                return
            time.sleep(options["interval"])
