"""Recorded events cannot be changed or removed through the ORM, and bad input is refused up front."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest

from epolicy.audit.models import AuditEvent, AuditImmutableError
from epolicy.audit.selectors import audit_verify_chain
from epolicy.audit.services import audit_record

pytestmark = pytest.mark.django_db


@pytest.fixture
def event() -> AuditEvent:
    audit_record(
        action="policy.issued", actor="system", subject_type="policy", subject_id="P1", data={"v": 1}
    )
    return audit_record(action="policy.issued", actor="system", subject_type="policy", subject_id="P2")


def test_saving_a_loaded_event_is_refused(event):
    loaded = AuditEvent.objects.get(pk=event.pk)
    loaded.actor = "staff:mallory"
    with pytest.raises(AuditImmutableError):
        loaded.save()
    with pytest.raises(AuditImmutableError):
        loaded.save(update_fields=["actor"])
    assert AuditEvent.objects.get(pk=event.pk).actor == "system"


def test_saving_the_returned_event_again_is_refused(event):
    with pytest.raises(AuditImmutableError):
        event.save()


def test_deleting_an_event_is_refused(event):
    with pytest.raises(AuditImmutableError):
        event.delete()
    assert AuditEvent.objects.filter(pk=event.pk).exists()


@pytest.mark.parametrize(
    "write",
    [
        lambda: AuditEvent.objects.filter(seq=1).update(actor="staff:mallory"),
        lambda: AuditEvent.objects.update(actor="staff:mallory"),
        lambda: AuditEvent.objects.filter(seq=1).delete(),
        lambda: AuditEvent.objects.all().delete(),
        lambda: AuditEvent.objects.bulk_update(list(AuditEvent.objects.all()), ["actor"]),
        lambda: AuditEvent.objects.update_or_create(seq=1, defaults={"actor": "x"}),
        lambda: AuditEvent.objects.bulk_create([AuditEvent(seq=99, actor="x", action="y")]),
    ],
    ids=[
        "filter-update",
        "manager-update",
        "filter-delete",
        "all-delete",
        "bulk_update",
        "update_or_create",
        "bulk_create",
    ],
)
def test_queryset_writes_are_refused(event, write):
    with pytest.raises(AuditImmutableError):
        write()
    assert AuditEvent.objects.count() == 2
    assert not AuditEvent.objects.filter(actor="staff:mallory").exists()
    assert audit_verify_chain().ok


def test_data_is_stored_in_the_form_that_was_hashed():
    when = dt.datetime(2026, 11, 21, 9, 0, tzinfo=dt.UTC)
    ident = uuid.UUID("12345678-1234-5678-1234-567812345678")
    event = audit_record(
        action="payment.received",
        actor="api:gateway",
        subject_type="payment",
        subject_id="PAY1",
        data={
            "amount": Decimal("950.00"),
            "at": when,
            "day": dt.date(2026, 11, 22),
            "ref": ident,
            "ratio": 0.25,
            "floats": [-0.0, 1e-7, 0.1 + 0.2, 1e15],
        },
    )
    stored = AuditEvent.objects.get(pk=event.pk)
    assert stored.data == {
        "amount": "950.00",
        "at": "2026-11-21T09:00:00.000000+00:00",
        "day": "2026-11-22",
        "ref": "12345678-1234-5678-1234-567812345678",
        "ratio": 0.25,
        "floats": [0.0, 1e-7, 0.30000000000000004, 1e15],
    }
    assert str(stored.data["floats"][0]) == "0.0"  # not -0.0, which jsonb cannot keep
    assert stored.computed_hash() == stored.hash
    assert audit_verify_chain().ok


@pytest.mark.parametrize(
    "data",
    [
        {"when": dt.datetime(2026, 11, 21, 9, 0)},  # naive
        {"big": 1e20},  # jsonb would give it back as an integer
        {"nan": float("nan")},
        {"tags": {"a", "b"}},
        {"amount": Decimal("NaN")},
    ],
    ids=["naive-datetime", "exponent-float", "nan", "set", "decimal-nan"],
)
def test_data_that_cannot_round_trip_is_refused(data):
    with pytest.raises(TypeError):
        audit_record(action="x.y", actor="system", subject_type="t", subject_id="1", data=data)
    assert AuditEvent.objects.count() == 0


@pytest.mark.parametrize(
    "kwargs",
    [
        {"action": ""},
        {"actor": "   "},
        {"subject_type": ""},
        {"actor": "staff:" + "x" * 200},
        {"subject_id": "1" * 129},
    ],
    ids=["empty-action", "blank-actor", "empty-subject-type", "long-actor", "long-subject-id"],
)
def test_bad_fields_are_refused_on_every_database(kwargs):
    fields = {"action": "x.y", "actor": "system", "subject_type": "t", "subject_id": "1", **kwargs}
    with pytest.raises(ValueError):
        audit_record(**fields)
    assert AuditEvent.objects.count() == 0
