"""`epolicy metrics_exporter`: the metrics of the task workers on a machine without a web server.

Task workers count what they do (issuance above all) into PROMETHEUS_MULTIPROC_DIR like gunicorn's
workers; on an application server /ops/metrics adds them up. A machine that runs only workers serves
the same directory here, for Prometheus to scrape (docs/operations.md#metrics).
"""

from __future__ import annotations

import hmac
import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser


class Command(BaseCommand):
    help = "Serve the metrics of this machine's task workers (PROMETHEUS_MULTIPROC_DIR) for Prometheus."
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--bind", default="127.0.0.1:9108", help="address:port (default 127.0.0.1:9108)")

    def handle(self, *args: Any, **options: Any) -> None:
        directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")
        if not directory or not os.path.isdir(directory):
            raise CommandError("PROMETHEUS_MULTIPROC_DIR must name the workers' metrics directory")
        host, _, port = str(options["bind"]).rpartition(":")
        token = str(getattr(settings, "OPS_METRICS", {}).get("token") or "")
        server = ThreadingHTTPServer((host or "127.0.0.1", int(port)), _handler(token))
        self.stdout.write(f"metrics of {directory} on http://{options['bind']}/metrics")
        try:
            server.serve_forever()
        finally:
            server.server_close()


def _handler(token: str) -> type[BaseHTTPRequestHandler]:
    class MetricsHandler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            from prometheus_client import CollectorRegistry, generate_latest, multiprocess
            from prometheus_client.exposition import CONTENT_TYPE_LATEST

            if self.path.split("?", 1)[0] != "/metrics":
                self._answer(404, b"not found\n", "text/plain")
                return
            given = self.headers.get("Authorization", "")
            if token and not (given.startswith("Bearer ") and hmac.compare_digest(given[7:].strip(), token)):
                self._answer(403, b"metrics_forbidden\n", "text/plain")
                return
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            self._answer(200, generate_latest(registry), CONTENT_TYPE_LATEST)

        def _answer(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return  # scrapes are not worth a log line

    return MetricsHandler
