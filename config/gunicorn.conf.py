"""gunicorn's settings for epolicy (scripts/serve.sh passes bind, workers and threads on its command line).

Metrics of several worker processes (docs/operations.md#metrics): prometheus_client's multiprocess mode
keeps each worker's values in files under PROMETHEUS_MULTIPROC_DIR, which must be set before any worker
imports prometheus_client. This file sets it (var/prometheus unless the environment names one), wipes
it when the server starts (values of an earlier run would be added to this one's), and tells
prometheus_client when a worker exits so its gauges are dropped; counters and histograms of dead
workers stay in the sums, as Prometheus expects of counters.

No access log: gunicorn would write raw paths, and some carry secrets (applicant links). Requests are
timed by route in the metrics, and the application's own log lines carry the request id. gunicorn's own
log (a malformed request line quotes the path, an applicant's link or an ID number in it) goes through
the application's redacting filter and formatter: the same one JSON object per line in production.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from epolicy.common.jsonlog import console_logging, log_format

_BASE = Path(__file__).resolve().parent.parent
_VAR = Path(os.environ.get("EPOLICY_VAR_DIR", str(_BASE / "var")))
PROMETHEUS_DIR = Path(os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", str(_VAR / "prometheus")))

accesslog = None
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    **console_logging(log_format(os.environ)),
    "root": {"level": "INFO", "handlers": ["console"]},
    "loggers": {
        "gunicorn.error": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "gunicorn.access": {"handlers": ["console"], "level": "INFO", "propagate": False},
    },
}
# gunicorn's control socket (for gunicornc) is one path per OS user: two servers on one machine would take
# it from each other. Nothing here uses it; restarts go through the service manager's signals.
control_socket_disable = True
# A worker killed for silence after this long; the verification and issuance paths bound their own work.
timeout = int(os.environ.get("EPOLICY_WEB_TIMEOUT", "60"))
graceful_timeout = int(os.environ.get("EPOLICY_WEB_GRACEFUL_TIMEOUT", "30"))


def on_starting(server: Any) -> None:
    """In the master, before any worker: an empty metrics directory for this run."""
    PROMETHEUS_DIR.mkdir(parents=True, exist_ok=True)
    os.chmod(PROMETHEUS_DIR, 0o700)
    if os.environ.get("EPOLICY_METRICS_DIR_PREPARED") == "1":
        return  # emptied by whoever started the task workers first (scripts/run.sh): theirs count too
    for entry in PROMETHEUS_DIR.iterdir():
        if entry.is_file() and entry.suffix == ".db":
            entry.unlink()


def child_exit(server: Any, worker: Any) -> None:
    """A worker ended (restart, crash, max_requests): its live gauges no longer count."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
