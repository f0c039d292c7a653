"""`epolicy db_worker`: django-tasks-db's task worker, kept alive through a database outage.

django-tasks-db's worker ends (exit 1) on any database error other than a lock while it looks for the next
task: a PostgreSQL restart or failover would stop every task worker until something restarted it. This
command (found before django-tasks-db's own: config/settings.py lists that app after the platform's) runs
the same worker and, when the database is unreachable, closes the broken connections, waits (1 s, doubling
up to 30 s) and starts looking again. Nothing is lost meanwhile: a task interrupted mid-run is an outbox
job whose lease runs out (docs/reliability.md). SIGTERM/SIGINT still stop it at once between tasks.
"""

from __future__ import annotations

import contextlib
import logging
import time
from typing import Any

from django.db import InterfaceError, OperationalError, connections
from django_tasks_db.management.commands.db_worker import Command as DatabaseWorkerCommand

log = logging.getLogger("epolicy.ops.worker")
RETRY_FIRST_SECONDS = 1.0
RETRY_MAX_SECONDS = 30.0


class Command(DatabaseWorkerCommand):
    help = "Run the database task backend's worker; it waits out database outages instead of ending."

    def handle(self, **options: Any) -> None:
        delay = RETRY_FIRST_SECONDS
        while True:
            try:
                super().handle(**options)
                return
            except (OperationalError, InterfaceError) as exc:
                log.warning(
                    "task worker: the database is unavailable (%s); looking again in %.0f s",
                    type(exc).__name__,
                    delay,
                )
                for connection in connections.all(initialized_only=True):
                    # A broken connection may fail to close; it is dropped all the same.
                    with contextlib.suppress(Exception):
                        connection.close()
                time.sleep(delay)
                delay = min(delay * 2, RETRY_MAX_SECONDS)
