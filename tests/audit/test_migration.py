"""Upgrading to the keyed chain: events written before it stay verifiable as the chain's legacy prefix."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from epolicy.audit.models import GENESIS_HASH, AuditEvent, compute_event_hash
from epolicy.audit.selectors import audit_verify_chain
from epolicy.audit.services import audit_record

BEFORE = [("audit", "0001_initial")]
AFTER = [("audit", "0002_keyed_chain_and_anchors")]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.mark.django_db(transaction=True)
def test_events_from_before_the_upgrade_are_the_legacy_prefix():
    old_apps = migrate(BEFORE)
    try:
        event_model = old_apps.get_model("audit", "AuditEvent")
        head_model = old_apps.get_model("audit", "AuditChainHead")
        prev = GENESIS_HASH
        for seq in (1, 2, 3):  # as the code before the keyed chain wrote them
            fields = {
                "seq": seq,
                "occurred_at": dt.datetime(2026, 6, 1, 8, seq, tzinfo=dt.UTC),
                "actor": "system",
                "action": "policy.issued",
                "subject_type": "policy",
                "subject_id": f"P{seq}",
                "data": {"n": seq},
                "prev_hash": prev,
            }
            prev = compute_event_hash(**fields)
            event_model.objects.create(**fields, hash=prev)
        head_model.objects.update_or_create(pk=1, defaults={"last_seq": 3, "last_hash": prev})
    finally:
        migrate(AFTER)

    assert list(AuditEvent.objects.values_list("key_id", flat=True)) == ["", "", ""]
    after = audit_record(action="policy.issued", actor="system", subject_type="policy", subject_id="P4")
    assert after.key_id and after.prev_hash == prev
    report = audit_verify_chain()
    assert report.ok, report
    assert report.events_checked == 4
