"""The audit chain: hashes reproducible by hand, verification, and tampering caught by verification."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import io
import itertools
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command, load_command_class
from django.core.management.base import CommandError
from django.db import DatabaseError, connections, transaction

from epolicy.audit.keys import signing_key
from epolicy.audit.models import GENESIS_HASH, AuditChainHead, AuditEvent, compute_event_mac
from epolicy.audit.selectors import audit_events_for, audit_verify_chain
from epolicy.audit.services import AuditChainError, audit_record
from epolicy.common.clock import frozen_clock

from .conftest import KEY
from .util import fields_of, is_postgresql, make_chain, tamper

pytestmark = pytest.mark.django_db

BATCH_SIZES = [1, 2, 1000]


def hkdf_sha256(secret: bytes, info: bytes) -> bytes:
    """RFC 5869 with no salt and one output block, written out with the standard library."""
    prk = hmac.new(b"\0" * 32, secret, hashlib.sha256).digest()
    return hmac.new(prk, info + b"\x01", hashlib.sha256).digest()


def test_first_event_hash_is_the_hmac_of_the_hand_written_canonical_json():
    at = dt.datetime(2026, 11, 21, 16, 30, 0, 123456, tzinfo=ZoneInfo("Asia/Shanghai"))
    with frozen_clock(at):
        event = audit_record(
            action="application.signed",
            actor="customer:app:TB2026001",
            subject_type="motor.application",
            subject_id="TB2026001",
            data={"保费": Decimal("1234.50"), "b": 1, "a": [True, None], "签名": "已签"},
        )

    # The MAC key: HKDF-SHA256 of the configured secret's text under the fixed label; its id: the first
    # 16 hex digits of its SHA-256.
    mac_key = hkdf_sha256(KEY.encode(), b"epolicy/audit-chain/hmac-sha256/v1")
    key_id = hashlib.sha256(mac_key).hexdigest()[:16]
    canonical = (
        '{"action":"application.signed","actor":"customer:app:TB2026001",'
        '"data":{"a":[true,null],"b":1,"保费":"1234.50","签名":"已签"},'
        f'"key_id":"{key_id}",'
        '"occurred_at":"2026-11-21T08:30:00.123456+00:00",'
        '"prev_hash":"0000000000000000000000000000000000000000000000000000000000000000",'
        '"seq":1,"subject_id":"TB2026001","subject_type":"motor.application"}'
    )
    assert len(base64.b64decode(KEY)) == 32
    assert event.seq == 1
    assert event.prev_hash == "0" * 64
    assert event.key_id == key_id
    assert event.hash == hmac.new(mac_key, canonical.encode("utf-8"), hashlib.sha256).hexdigest()

    stored = AuditEvent.objects.get(pk=event.pk)
    assert stored.data == {"保费": "1234.50", "b": 1, "a": [True, None], "签名": "已签"}
    assert stored.occurred_at == at
    assert stored.computed_hash() == event.hash


def test_events_are_numbered_without_gaps_and_linked_by_hash():
    events = make_chain(5)
    assert [e.seq for e in events] == [1, 2, 3, 4, 5]
    assert events[0].prev_hash == GENESIS_HASH
    for before, after in itertools.pairwise(events):
        assert after.prev_hash == before.hash
    head = AuditChainHead.objects.get()
    assert (head.last_seq, head.last_hash) == (5, events[-1].hash)


@pytest.mark.parametrize("batch_size", BATCH_SIZES)
def test_intact_chain_verifies(batch_size):
    make_chain(5)
    report = audit_verify_chain(batch_size=batch_size)
    assert report.ok, report
    assert report.events_checked == 5
    assert report.first_bad_seq is None
    assert report.problem is None


def test_empty_chain_verifies():
    report = audit_verify_chain()
    assert report.ok
    assert report.events_checked == 0


def test_events_for_a_subject_in_order():
    audit_record(action="policy.issued", actor="system", subject_type="policy", subject_id="P1")
    audit_record(action="policy.issued", actor="system", subject_type="policy", subject_id="P2")
    audit_record(action="policy.downloaded", actor="customer:app:1", subject_type="policy", subject_id="P1")
    audit_record(action="application.signed", actor="system", subject_type="application", subject_id="P1")

    history = audit_events_for("policy", "P1")

    assert [e.action for e in history] == ["policy.issued", "policy.downloaded"]
    assert [e.seq for e in history] == [1, 3]


# ---------------------------------------------------------------------------------------------------------
# Tampering behind the application's back


@pytest.mark.parametrize("batch_size", BATCH_SIZES)
def test_edited_data_is_a_hash_mismatch_at_that_event(batch_size):
    make_chain(5)
    tamper(
        "UPDATE {table} SET data = {json} WHERE seq = %s",
        ['{"step": 3, "premium": "1.00"}', 3],
    )

    report = audit_verify_chain(batch_size=batch_size)

    assert not report.ok
    assert report.problem == "hash_mismatch"
    assert report.first_bad_seq == 3
    assert report.events_checked == 2


def test_edited_actor_is_a_hash_mismatch():
    make_chain(5)
    tamper("UPDATE {table} SET actor = %s WHERE seq = %s", ["staff:mallory", 1])

    report = audit_verify_chain()

    assert (report.ok, report.problem, report.first_bad_seq, report.events_checked) == (
        False,
        "hash_mismatch",
        1,
        0,
    )


@pytest.mark.parametrize("batch_size", BATCH_SIZES)
def test_deleted_middle_event_is_a_gap(batch_size):
    make_chain(5)
    tamper("DELETE FROM {table} WHERE seq = %s", [3])

    report = audit_verify_chain(batch_size=batch_size)

    assert not report.ok
    assert report.problem == "gap"
    assert report.first_bad_seq == 3
    assert report.events_checked == 2


def test_deleted_middle_event_renumbered_is_a_broken_link():
    make_chain(5)
    tamper("DELETE FROM {table} WHERE seq = %s", [3])
    # Closing the gap by renumbering breaks each moved event's own hash first.
    tamper("UPDATE {table} SET seq = seq - 1 WHERE seq = %s", [4])

    report = audit_verify_chain()

    assert not report.ok
    assert report.problem == "hash_mismatch"
    assert report.first_bad_seq == 3


def test_relinked_event_with_recomputed_hash_is_a_broken_link():
    """Even with the key, an event re-linked elsewhere breaks the link to the event before it."""
    events = make_chain(5)
    victim = AuditEvent.objects.get(seq=3)
    forged_prev = "f" * 64
    forged_hash = compute_event_mac(signing_key(), **fields_of(victim, prev_hash=forged_prev))
    tamper("UPDATE {table} SET prev_hash = %s, hash = %s WHERE seq = %s", [forged_prev, forged_hash, 3])

    report = audit_verify_chain()

    assert forged_hash != events[2].hash
    assert not report.ok
    assert report.problem == "broken_link"
    assert report.first_bad_seq == 3
    assert report.events_checked == 2


def test_rewritten_last_event_is_caught_by_the_head():
    """Someone holding the key who rewrites the last event but leaves the head is caught by the head."""
    make_chain(5)
    last = AuditEvent.objects.get(seq=5)
    new_data = {**last.data, "premium": "1.00"}
    new_hash = compute_event_mac(signing_key(), **fields_of(last, data=new_data))
    tamper(
        "UPDATE {table} SET data = {json}, hash = %s WHERE seq = %s",
        ['{"step": 5, "premium": "1.00"}', new_hash, 5],
    )

    report = audit_verify_chain()

    assert not report.ok
    assert report.problem == "head_mismatch"
    assert report.first_bad_seq == 5
    assert report.events_checked == 5


def test_truncated_tail_is_caught_by_the_head():
    make_chain(5)
    tamper("DELETE FROM {table} WHERE seq >= %s", [4])

    report = audit_verify_chain(batch_size=2)

    assert not report.ok
    assert report.problem == "head_mismatch"
    assert report.first_bad_seq == 4
    assert report.events_checked == 3


def test_event_slipped_in_after_the_head_is_caught():
    events = make_chain(3)
    at = dt.datetime(2026, 11, 21, 8, 0, tzinfo=dt.UTC)
    forged = {
        "seq": 4,
        "occurred_at": at,
        "actor": "system",
        "action": "policy.cancelled",
        "subject_type": "policy",
        "subject_id": "P1",
        "data": {},
        "prev_hash": events[-1].hash,
    }
    key = signing_key()
    forged_hash = compute_event_mac(key, **forged)
    tamper(
        "INSERT INTO {table} (seq, occurred_at, actor, action, subject_type, subject_id, data, prev_hash,"
        " hash, key_id) VALUES (%s, %s, %s, %s, %s, %s, {json}, %s, %s, %s)",
        [4, at, "system", "policy.cancelled", "policy", "P1", "{}", events[-1].hash, forged_hash, key.key_id],
    )

    report = audit_verify_chain()

    assert not report.ok
    assert report.problem == "head_mismatch"
    assert report.first_bad_seq == 4
    assert report.events_checked == 3


def test_missing_head_with_events_is_reported_and_refuses_appends():
    make_chain(2)
    AuditChainHead.objects.all().delete()

    report = audit_verify_chain()
    assert (report.ok, report.problem) == (False, "head_mismatch")

    with pytest.raises(AuditChainError):
        audit_record(action="x.y", actor="system", subject_type="t", subject_id="1")
    assert AuditEvent.objects.count() == 2


def test_missing_head_on_an_empty_log_is_recreated():
    AuditChainHead.objects.all().delete()
    event = audit_record(action="x.y", actor="system", subject_type="t", subject_id="1")
    assert (event.seq, event.prev_hash) == (1, GENESIS_HASH)
    assert audit_verify_chain().ok


def test_postgresql_trigger_refuses_raw_update_and_delete():
    if not is_postgresql():
        pytest.skip("the append-only trigger exists on PostgreSQL only")
    make_chain(2)
    for sql in (
        "UPDATE {table} SET actor = 'staff:mallory' WHERE seq = 1",
        "DELETE FROM {table} WHERE seq = 2",
    ):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            tamper(sql, bypass_trigger=False)
    assert audit_verify_chain().ok


# ---------------------------------------------------------------------------------------------------------
# The management command


def test_command_reports_an_intact_chain():
    make_chain(4)
    out = io.StringIO()

    call_command("audit_verify", stdout=out)

    assert "审计链完整" in out.getvalue()
    assert "4 events checked" in out.getvalue()
    assert "已校验 4 条事件" in out.getvalue()


def test_command_fails_on_a_broken_chain():
    make_chain(4)
    tamper("DELETE FROM {table} WHERE seq = %s", [2])
    err = io.StringIO()

    with pytest.raises(CommandError) as excinfo:
        call_command("audit_verify", "--batch-size", "2", stdout=io.StringIO(), stderr=err)

    assert excinfo.value.returncode == 1
    assert "审计链已损坏" in err.getvalue()
    assert "BROKEN at seq 2 (gap)" in err.getvalue()


@pytest.mark.parametrize(("broken", "status"), [(False, 0), (True, 1)])
def test_command_exit_status(monkeypatch, capsys, broken, status):
    make_chain(3)
    if broken:
        tamper("UPDATE {table} SET subject_id = %s WHERE seq = %s", ["TB9999", 2])
    # run_from_argv closes every connection when done, which would end the test's transaction.
    monkeypatch.setattr(connections, "close_all", lambda: None)
    command = load_command_class("epolicy.audit", "audit_verify")

    with pytest.raises(SystemExit) as excinfo:
        command.run_from_argv(["epolicy", "audit_verify"])
        raise SystemExit(0)

    assert excinfo.value.code == status
    assert ("审计链已损坏" in capsys.readouterr().err) is broken
