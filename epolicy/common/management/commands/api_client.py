from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from epolicy.common.models import ApiClient


class Command(BaseCommand):
    help = "Create an API client for another system of the insurer and print its key (shown once)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("name")

    def handle(self, *args: Any, **options: Any) -> None:
        _client, key = ApiClient.create_with_key(options["name"])
        self.stdout.write(f"X-API-Key: {key}")
