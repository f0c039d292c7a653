from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand

from epolicy.archive.services import archive_read
from epolicy.motor.demo import demo_application_input
from epolicy.motor.journey import run_journey


class Command(BaseCommand):
    help = "Run the whole e-application journey with sandbox data and write the signed e-policy PDF."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--out", required=True, help="where to write the e-policy PDF")
        parser.add_argument(
            "--seed", type=int, default=None, help="seed of the demo data (reproducible people)"
        )
        parser.add_argument("--email", default="applicant@example.com")

    def handle(self, *args: Any, **options: Any) -> None:
        policy = run_journey(demo_application_input(options["seed"], email=options["email"]))
        out = Path(options["out"])
        out.write_bytes(archive_read(policy.document))
        self.stdout.write(f"issued {policy.number} ({policy.premium} + tax {policy.vehicle_tax}) -> {out}")
