"""The scheduler is a long-running loop outside any request: Django replaces a dropped database
connection only where someone calls close_old_connections (before each request, in db_worker's loop).
The scheduler does so before each round; without it, after a PostgreSQL restart that cut its connection
outside a transaction, every later round failed with "the connection is lost" and no job was swept
again (the PostgreSQL restart test, test_pg_restart.py, found it: issuance jobs of killed task workers
were never taken over)."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.db import OperationalError


class Stop(Exception):
    pass


@pytest.mark.django_db(transaction=True)
def test_each_round_starts_by_replacing_a_dropped_connection(monkeypatch):
    from epolicy.ops.management.commands import scheduler

    events: list[str] = []
    rounds = iter([OperationalError("the connection is lost"), None])

    def schedule_due():
        events.append("round")
        error = next(rounds)
        if error is not None:
            raise error
        return []

    def sleep(seconds):
        if events.count("round") == 2:
            raise Stop

    monkeypatch.setattr(scheduler, "close_old_connections", lambda: events.append("reconnect"))
    monkeypatch.setattr(scheduler, "schedule_due", schedule_due)
    monkeypatch.setattr(scheduler.time, "sleep", sleep)
    with pytest.raises(Stop):
        call_command("scheduler", "--interval", "0")
    assert events == ["reconnect", "round", "reconnect", "round"]
