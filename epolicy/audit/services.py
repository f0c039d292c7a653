"""Writing audit events: the only way into the append-only, hash-chained (HMAC-keyed) log."""

from __future__ import annotations

from typing import Any

from django.db import models, transaction

from epolicy.common import clock

from .keys import signing_key
from .models import HEAD_PK, AuditChainHead, AuditEvent, compute_event_mac, normalize_data


class AuditChainError(Exception):
    """The chain head is missing while events exist: appending would fork the chain, so it is refused."""


def _check_text(name: str, value: str, max_length: int) -> str:
    if not isinstance(value, str):
        raise TypeError(f"audit {name} must be a str, not {type(value).__name__}")
    if not value.strip():
        raise ValueError(f"audit {name} must not be empty")
    if len(value) > max_length:
        # Checked here so SQLite (which does not enforce varchar lengths) behaves like PostgreSQL.
        raise ValueError(f"audit {name} is longer than {max_length} characters")
    return value


def _field_max_length(name: str) -> int:
    field = AuditEvent._meta.get_field(name)
    assert isinstance(field, models.CharField) and field.max_length is not None
    return field.max_length


def _lock_head() -> AuditChainHead:
    head = AuditChainHead.objects.select_for_update().filter(pk=HEAD_PK).first()
    if head is not None:
        return head
    # The migration creates the head; it is missing only on a database flushed since (tests). Concurrent
    # first appends all try the insert; the conflict makes the losers wait for the winner and re-read.
    AuditChainHead.objects.bulk_create([AuditChainHead(pk=HEAD_PK)], ignore_conflicts=True)
    head = AuditChainHead.objects.select_for_update().get(pk=HEAD_PK)
    if head.last_seq == 0 and AuditEvent.objects.exists():
        raise AuditChainError("audit chain head is missing but events exist; run `epolicy audit_verify`")
    return head


def audit_record(
    *,
    action: str,
    actor: str,
    subject_type: str,
    subject_id: str,
    data: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event to the hash-chained audit log, in the caller's transaction.

    The event's hash is an HMAC under the signing key of settings.AUDIT_CHAIN_KEY (see `keys.py`).

    Call it inside the transaction of the change it records, so both commit or neither does; it opens
    its own (nested) atomic block, so it also works alone. It locks the chain head until the outer
    transaction ends, which serializes every audited transaction: call it as the last step, after the
    service's own rows are locked and written, to keep that lock short and the lock order the same
    everywhere. `data` must not contain clear personal data (see `AuditEvent`).
    """
    action = _check_text("action", action, _field_max_length("action"))
    actor = _check_text("actor", actor, _field_max_length("actor"))
    subject_type = _check_text("subject_type", subject_type, _field_max_length("subject_type"))
    subject_id = _check_text("subject_id", str(subject_id), _field_max_length("subject_id"))
    payload = normalize_data(data)
    key = signing_key()  # before the lock: a missing key fails here, holding nothing

    with transaction.atomic():
        head = _lock_head()
        seq = head.last_seq + 1
        occurred_at = clock.now()
        event = AuditEvent(
            seq=seq,
            occurred_at=occurred_at,
            actor=actor,
            action=action,
            subject_type=subject_type,
            subject_id=subject_id,
            data=payload,
            prev_hash=head.last_hash,
            key_id=key.key_id,
            hash=compute_event_mac(
                key,
                seq=seq,
                occurred_at=occurred_at,
                actor=actor,
                action=action,
                subject_type=subject_type,
                subject_id=subject_id,
                data=payload,
                prev_hash=head.last_hash,
            ),
        )
        event.save()
        head.last_seq = seq
        head.last_hash = event.hash
        head.updated_at = occurred_at
        head.save(update_fields=["last_seq", "last_hash", "updated_at"])
    return event
