"""`epolicy db_worker` is the platform's: django-tasks-db's worker that waits out a database outage
(tests/reliability/test_pg_restart.py shows it on a real PostgreSQL restart)."""

from __future__ import annotations

import pytest
from django.core.management import call_command, get_commands
from django.db import OperationalError, ProgrammingError

from epolicy.ops.management.commands import db_worker


def test_the_platforms_worker_command_is_the_one_found():
    assert get_commands()["db_worker"] == "epolicy.ops"


@pytest.mark.django_db(transaction=True)
def test_an_unreachable_database_is_waited_out_with_growing_pauses(monkeypatch, settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    from django_tasks_db.management.commands import db_worker as upstream

    original = upstream.Worker.run
    calls: list[int] = []
    pauses: list[float] = []

    def run(self):
        calls.append(1)
        if len(calls) <= 3:
            raise OperationalError("connection to server at 127.0.0.1 failed: Connection refused")
        return original(self)

    monkeypatch.setattr(upstream.Worker, "run", run)
    monkeypatch.setattr(db_worker.time, "sleep", pauses.append)
    call_command("db_worker", "--batch", "--no-startup-delay", verbosity=0)
    assert len(calls) == 4  # three outages, then a batch run that found nothing and ended
    assert pauses == [1.0, 2.0, 4.0]


@pytest.mark.django_db(transaction=True)
def test_other_errors_still_end_the_worker(monkeypatch, settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    from django_tasks_db.management.commands import db_worker as upstream

    def run(self):
        raise ProgrammingError("relation does not exist")  # a missing migration is not waited out

    monkeypatch.setattr(upstream.Worker, "run", run)
    with pytest.raises(ProgrammingError):
        call_command("db_worker", "--batch", "--no-startup-delay", verbosity=0)


def test_pauses_are_capped():
    delays, delay = [], db_worker.RETRY_FIRST_SECONDS
    for _ in range(10):
        delays.append(delay)
        delay = min(delay * 2, db_worker.RETRY_MAX_SECONDS)
    assert max(delays) == db_worker.RETRY_MAX_SECONDS == 30.0
