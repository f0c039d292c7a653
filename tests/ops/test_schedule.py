import datetime as dt

import pytest

from epolicy.common import clock
from epolicy.ops import schedule
from epolicy.ops.schedule import JOBS, schedule_due

pytestmark = pytest.mark.django_db


def test_each_job_is_queued_once_per_interval(monkeypatch, committed):
    ran = []

    class FakeTask:
        def __init__(self, path):
            self.path = path

        def enqueue(self, **kwargs):
            ran.append((self.path, kwargs))

    monkeypatch.setattr(schedule, "import_string", FakeTask)
    now = clock.now()
    with committed(execute=True):
        assert schedule_due(now=now) == [j.name for j in JOBS]
    assert sorted(p for p, _ in ran) == sorted(j.task for j in JOBS)
    assert ("epolicy.archive.tasks.archive_scrub_task", {"repair": True}) in ran
    with committed(execute=True):
        assert schedule_due(now=now + dt.timedelta(minutes=59)) == []
        assert schedule_due(now=now + dt.timedelta(hours=1)) == [
            "policy_status",
            "life_reconfirm_lapse",
            "audit_anchor",
            "envelope_nonce_purge",
            "identity_purge",
        ]
        assert schedule_due(now=now + dt.timedelta(hours=7)) == [
            "life_anniversaries",
            "policy_status",
            "life_reconfirm_lapse",
            "crl_refresh",
            "audit_anchor",
            "envelope_nonce_purge",
            "identity_purge",
        ]
        assert set(schedule_due(now=now + dt.timedelta(days=1, hours=1))) == {j.name for j in JOBS}


def test_every_job_names_a_real_task():
    from django.utils.module_loading import import_string

    for job in JOBS:
        assert hasattr(import_string(job.task), "enqueue"), job.task
