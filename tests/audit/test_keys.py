"""The keyed chain: rewrites by whoever lacks the key are caught, keys rotate, the legacy prefix verifies."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ImproperlyConfigured

from epolicy.audit.keys import UnknownChainKey, chain_keys, derive_key, signing_key
from epolicy.audit.models import GENESIS_HASH, AuditEvent
from epolicy.audit.selectors import audit_verify_chain
from epolicy.audit.services import audit_record

from .conftest import KEY, OLD_KEY
from .util import legacy_event, make_chain, rewrite_from

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)


def problem_of(report):
    return (report.ok, report.problem, report.first_bad_seq)


# ---------------------------------------------------------------------------------------------------------
# Rewrites by someone with database access but without the key


def test_rewrite_with_the_chain_recomputed_in_plain_sha256_is_detected():
    """The old chain's method (SHA-256 over the canonical fields) applied by hand, head moved too."""
    make_chain(6)
    rewrite_from(3, None, change={"data": {"step": 3, "premium": "1.00"}})

    assert problem_of(audit_verify_chain()) == (False, "hash_mismatch", 3)


def test_rewrite_passed_off_as_legacy_events_is_detected():
    """Dropping the key id to make the rewritten events look older than the keyed chain does not help."""
    make_chain(6)
    rewrite_from(3, None, change={"actor": "staff:mallory"}, key_id="")

    report = audit_verify_chain()

    assert problem_of(report) == (False, "legacy_after_keyed", 3)
    assert report.events_checked == 2


def test_rewrite_with_a_wrong_key_under_its_own_key_id_is_an_unknown_key():
    make_chain(6)
    rewrite_from(4, derive_key("mallory's guess"), change={"data": {"step": 4, "premium": "0.01"}})

    report = audit_verify_chain()

    assert problem_of(report) == (False, "unknown_key", 4)
    assert report.events_checked == 3


def test_rewrite_with_a_wrong_key_under_our_key_id_is_a_hash_mismatch():
    make_chain(6)
    rewrite_from(
        4, derive_key("mallory's guess"), change={"actor": "staff:mallory"}, key_id=signing_key().key_id
    )

    assert problem_of(audit_verify_chain()) == (False, "hash_mismatch", 4)


def test_the_same_rewrite_with_the_key_verifies_without_anchors():
    """Why anchors exist: whoever holds the key and the database can recompute the chain."""
    make_chain(6)
    rewrite_from(4, signing_key(), change={"actor": "staff:mallory"})

    assert audit_verify_chain(anchors=False).ok


# ---------------------------------------------------------------------------------------------------------
# Keys and their rotation


def test_configured_keys_sign_with_the_first_and_verify_with_all(settings):
    settings.AUDIT_CHAIN_KEY = f" {KEY} , {OLD_KEY} "
    new, old = chain_keys()
    assert (new, old) == (derive_key(KEY), derive_key(OLD_KEY))
    assert signing_key() == new
    assert new.key_id != old.key_id and len(new.key_id) == 16
    assert KEY not in repr(new) and new.mac_key.hex() not in repr(new)


@pytest.mark.parametrize("value", ["", " , ", f"{KEY},{KEY}"], ids=["empty", "blank", "twice"])
def test_a_missing_or_doubled_key_refuses_to_write(settings, value):
    settings.AUDIT_CHAIN_KEY = value
    with pytest.raises(ImproperlyConfigured):
        audit_record(action="x.y", actor="system", subject_type="t", subject_id="1")
    assert not AuditEvent.objects.exists()


def test_rotation_new_key_signs_from_then_on_and_old_events_still_verify(settings):
    settings.AUDIT_CHAIN_KEY = OLD_KEY
    before = make_chain(3)
    settings.AUDIT_CHAIN_KEY = f"{KEY},{OLD_KEY}"
    after = make_chain(3, start=4)

    assert {e.key_id for e in before} == {derive_key(OLD_KEY).key_id}
    assert {e.key_id for e in after} == {derive_key(KEY).key_id}
    assert after[0].prev_hash == before[-1].hash
    report = audit_verify_chain()
    assert report.ok, report
    assert report.events_checked == 6
    assert all(e.computed_hash() == e.hash for e in AuditEvent.objects.all())


def test_retiring_a_key_still_needed_makes_its_events_unverifiable(settings):
    settings.AUDIT_CHAIN_KEY = OLD_KEY
    make_chain(2)
    settings.AUDIT_CHAIN_KEY = KEY  # the old key dropped: its events can no longer be checked

    report = audit_verify_chain()

    assert problem_of(report) == (False, "unknown_key", 1)
    with pytest.raises(UnknownChainKey):
        AuditEvent.objects.get(seq=1).computed_hash()


# ---------------------------------------------------------------------------------------------------------
# Events from before the keyed chain


def legacy_prefix(n: int) -> list[AuditEvent]:
    events: list[AuditEvent] = []
    for seq in range(1, n + 1):
        prev = events[-1].hash if events else GENESIS_HASH
        events.append(legacy_event(seq, prev, at=T0 + dt.timedelta(minutes=seq)))
    return events


def test_legacy_prefix_then_keyed_events_verify():
    legacy = legacy_prefix(3)
    keyed = make_chain(2, start=4)

    assert [e.key_id for e in AuditEvent.objects.all()] == ["", "", "", keyed[0].key_id, keyed[0].key_id]
    assert keyed[0].prev_hash == legacy[-1].hash
    report = audit_verify_chain()
    assert report.ok, report
    assert report.events_checked == 5


def test_an_unkeyed_event_after_a_keyed_one_is_a_break():
    legacy_prefix(2)
    keyed = make_chain(2, start=3)
    legacy_event(5, keyed[-1].hash, at=T0 + dt.timedelta(days=1))

    report = audit_verify_chain()

    assert problem_of(report) == (False, "legacy_after_keyed", 5)
    assert report.events_checked == 4


def test_the_legacy_prefix_cannot_be_rewritten_behind_the_first_keyed_event():
    legacy_prefix(4)
    make_chain(2, start=5)
    # The legacy hashes can be recomputed by anyone; the first keyed event's MAC covers the link to them.
    rewrite_from(2, None, change={"actor": "staff:mallory"}, until=4)

    report = audit_verify_chain()

    assert problem_of(report) == (False, "broken_link", 5)
    assert report.events_checked == 4
