"""Helpers of the audit tests: a chain to tamper with, and raw SQL as someone with database access runs it."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.db import connection

from epolicy.audit.keys import ChainKey
from epolicy.audit.models import AuditChainHead, AuditEvent, compute_event_hash, compute_event_mac
from epolicy.audit.services import audit_record

TABLE = AuditEvent._meta.db_table
TRIGGER = "audit_event_append_only"


def is_postgresql() -> bool:
    return connection.vendor == "postgresql"


def tamper(sql: str, params: list[Any] | None = None, *, bypass_trigger: bool = True) -> None:
    """Raw SQL on the events table, as someone with database access would run it.

    `{table}` in `sql` names the table and `{json}` is a placeholder for a JSON value. On PostgreSQL the
    append-only trigger is switched off around it; ALTER TABLE is transactional, so the test's rollback
    leaves the trigger as it was in any case.
    """
    table = connection.ops.quote_name(TABLE)
    bypass = bypass_trigger and is_postgresql()
    json_placeholder = "CAST(%s AS jsonb)" if is_postgresql() else "%s"
    with connection.cursor() as cursor:
        if bypass:
            cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER {TRIGGER}")
        cursor.execute(sql.format(table=table, json=json_placeholder), params or [])
        if bypass:
            cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER {TRIGGER}")


def make_chain(n: int = 5, start: int = 1) -> list[AuditEvent]:
    return [
        audit_record(
            action="application.signed" if i % 2 else "application.created",
            actor=f"staff:user{i}",
            subject_type="motor.application",
            subject_id=f"TB{i:04d}",
            data={"step": i, "premium": Decimal("950.00") + i},
        )
        for i in range(start, start + n)
    ]


def fields_of(event: AuditEvent, **changes: Any) -> dict[str, Any]:
    fields = {
        "seq": event.seq,
        "occurred_at": event.occurred_at,
        "actor": event.actor,
        "action": event.action,
        "subject_type": event.subject_type,
        "subject_id": event.subject_id,
        "data": event.data,
        "prev_hash": event.prev_hash,
    }
    fields.update(changes)
    return fields


def set_head(seq: int, hash_: str) -> None:
    """Move the chain head, as whoever tampers with the events would (the head has no guard)."""
    AuditChainHead.objects.filter(pk=1).update(last_seq=seq, last_hash=hash_)


def rewrite_from(
    seq: int,
    key: ChainKey | None,
    *,
    change: dict[str, Any],
    key_id: str | None = None,
    until: int | None = None,
) -> str:
    """Rewrite event `seq` with `change` and recompute the chain from there to the end (or `until`), as
    an attacker would: with `key` (HMAC under it, its key id unless `key_id` says otherwise) or, without
    a key (None), with plain SHA-256 like the legacy chain. Moves the head to the last event rewritten
    when the rewrite reaches the end; returns the hash of the last event rewritten."""
    prev = AuditEvent.objects.get(seq=seq).prev_hash
    events = AuditEvent.objects.filter(seq__gte=seq).order_by("seq")
    if until is not None:
        events = events.filter(seq__lte=until)
    for event in events:
        fields = fields_of(event, prev_hash=prev, **(change if event.seq == seq else {}))
        if key is not None:
            new_hash = compute_event_mac(key, **fields)
            new_key_id = key.key_id if key_id is None else key_id
        else:
            new_hash = compute_event_hash(**fields)
            new_key_id = event.key_id if key_id is None else key_id
        tamper(
            "UPDATE {table} SET actor = %s, data = {json}, prev_hash = %s, hash = %s, key_id = %s"
            " WHERE seq = %s",
            [fields["actor"], _json(fields["data"]), prev, new_hash, new_key_id, event.seq],
        )
        prev = new_hash
    if until is None:
        set_head(AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first() or 0, prev)
    return prev


def delete_tail(n: int) -> None:
    """Delete the last `n` events through raw SQL and move the head back to the event before them."""
    last = AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first() or 0
    tamper("DELETE FROM {table} WHERE seq > %s", [last - n])
    kept = AuditEvent.objects.filter(seq=last - n).values_list("hash", flat=True).first()
    set_head(last - n, kept or "0" * 64)


def _json(data: Any) -> str:
    from epolicy.audit.models import canonical_json

    return canonical_json(data)


def legacy_event(seq: int, prev_hash: str, *, at: dt.datetime, action: str = "legacy.step") -> AuditEvent:
    """An event as the code before the keyed chain wrote it: plain SHA-256, no key id (head moved)."""
    fields = {
        "seq": seq,
        "occurred_at": at,
        "actor": "system",
        "action": action,
        "subject_type": "legacy",
        "subject_id": str(seq),
        "data": {"n": seq},
        "prev_hash": prev_hash,
    }
    event = AuditEvent(**fields, hash=compute_event_hash(**fields), key_id="")
    event.save()
    AuditChainHead.objects.update_or_create(pk=1, defaults={"last_seq": seq, "last_hash": event.hash})
    return event
