"""Archive tests: both locations under tmp_path, staff members, and policies made without signing."""

import datetime as dt
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission

from epolicy.archive.models import ArchivedObject
from epolicy.archive.services import archive_put, retention_until
from epolicy.common import clock
from epolicy.motor.demo import demo_application_input
from epolicy.motor.services import application_create
from epolicy.policies.models import Policy


@pytest.fixture(autouse=True)
def _archive_locations(settings, tmp_path):
    settings.STORAGES = {
        **settings.STORAGES,
        "archive": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "archive")},
        },
        "archive_backup": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "archive-backup")},
        },
    }


@pytest.fixture
def primary_dir(tmp_path) -> Path:
    return tmp_path / "archive"


@pytest.fixture
def backup_dir(tmp_path) -> Path:
    return tmp_path / "archive-backup"


@pytest.fixture
def staff(db):
    """Three staff members: alice asks, bob may approve deletions, carol is staff without that right."""
    users = get_user_model().objects
    alice = users.create_user("alice", is_staff=True)
    bob = users.create_user("bob", is_staff=True)
    users.create_user("carol", is_staff=True)
    users.create_user("dave", is_staff=False)
    approve = Permission.objects.get(codename="approve_deletion", content_type__app_label="archive")
    bob.user_permissions.add(approve)
    alice.user_permissions.add(approve)  # alice could approve too, just not her own request
    return {"alice": "staff:alice", "bob": "staff:bob", "carol": "staff:carol", "dave": "staff:dave"}


@pytest.fixture
def make_policy(db):
    """A policy row with its application and an archived document, made without signing (fast)."""
    counter = iter(range(1, 1000))

    def make(*, start: dt.date, end: dt.date, seed: int = 7) -> Policy:
        app = application_create(data=demo_application_input(seed), actor="system:test")
        type(app).objects.filter(pk=app.pk).update(period_start=start, period_end=end)
        app.refresh_from_db()
        n = next(counter)
        retention = retention_until(start, end)
        archive_put(
            data=f"application form {app.number} {n}".encode(),
            kind=ArchivedObject.Kind.APPLICATION_FORM,
            name=app.number,
            subject=app,
            retention=retention,
        )
        doc = archive_put(
            data=f"%PDF-1.7 policy {app.number} {n}".encode(),
            kind=ArchivedObject.Kind.POLICY,
            name=f"PDZA{app.number}",
            subject=app,
            retention=retention,
        )
        policy = Policy.objects.create(
            number=f"PDZA{app.number[-12:]}{n:03d}",
            product=app.product,
            application=app,
            applicant=app.applicant,
            insured=app.insured,
            vin_index=app.vin_index,
            plate=app.plate,
            period_start=start,
            period_end=end,
            premium=app.premium,
            vehicle_tax=app.vehicle_tax,
            confirmed_at=clock.now(),
            document=doc,
        )
        ArchivedObject.objects.filter(pk=doc.pk).update(subject_type="policies.policy", subject_id=policy.pk)
        return policy

    return make
