from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand

from epolicy.ops.schedule import JOBS, schedule_due


class Command(BaseCommand):
    help = "Queue the periodic jobs (LTA renewal, CRL refresh, archive scrub) when they are due."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--once", action="store_true", help="check once and exit")
        parser.add_argument("--interval", type=int, default=60, help="seconds between checks")

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write("jobs: " + ", ".join(f"{j.name} every {j.every}" for j in JOBS))
        while True:
            for name in schedule_due():
                self.stdout.write(f"queued {name}")
            if options["once"]:
                return
            time.sleep(options["interval"])
