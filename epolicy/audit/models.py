"""Append-only, hash-chained audit events, and the anchors that fix the chain's head outside the database.

Every event carries an HMAC-SHA256 (under a key kept outside the database, see `keys.py`) of its own
canonical content, the hash of the event before it and the identifier of the key, so any edit, deletion
or re-ordering made behind the application's back shows up when the chain is verified
(`epolicy audit_verify`), even when whoever made it recomputed the chain. Events written before the
chain was keyed carry a plain SHA-256 and an empty `key_id`: they verify as a legacy prefix only.
`AuditChainHead` is the single row appends lock to take the next number, which keeps the numbering
gap-free and the chain unforked across processes on SQLite and PostgreSQL. Anchors (`anchor.py`) fix
the head periodically in the archive with a timestamp, so a truncated tail is detected too.
"""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import json
import math
import uuid
from typing import Any, NoReturn

from django.db import models

from .keys import ChainKey, verification_key

GENESIS_HASH = "0" * 64
HEAD_PK = 1


class AuditImmutableError(Exception):
    """Raised when code tries to change or remove a recorded audit event."""


def _refuse(what: str) -> NoReturn:
    raise AuditImmutableError(f"audit events are append-only: {what} is not allowed")


# ---------------------------------------------------------------------------------------------------------
# Canonical form and hashing


def _json_default(value: Any) -> Any:
    # Only types whose text form is unambiguous; the stored JSON is this text form, so what is hashed
    # is exactly what is read back.
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            raise TypeError("audit data needs aware datetimes")
        return value.astimezone(dt.UTC).isoformat(timespec="microseconds")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        if not value.is_finite():
            raise TypeError("audit data cannot hold a non-finite Decimal")
        return str(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    raise TypeError(f"audit data cannot hold a {type(value).__name__}; use str, int, Decimal, bool or None")


def _portable_floats(value: Any) -> Any:
    # PostgreSQL's jsonb keeps numbers as decimals and prints them its own way: 1e20 comes back as an
    # integer and -0.0 as 0.0, which would break the hash of a stored event. Negative zero becomes 0.0;
    # floats of 1e16 and more (all whole numbers) are refused.
    if isinstance(value, float):
        if not math.isfinite(value) or (value.is_integer() and "e" in repr(value)):
            raise TypeError(f"audit data cannot hold the float {value!r}; pass it as a Decimal or str")
        return 0.0 if value == 0 else value
    if isinstance(value, dict):
        return {key: _portable_floats(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_portable_floats(item) for item in value]
    return value


def canonical_json(payload: Any) -> str:
    """Canonical JSON: sorted keys, no whitespace, UTF-8 text (ensure_ascii=False), datetimes as ISO."""
    return json.dumps(
        _portable_floats(payload),
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
        default=_json_default,
    )


def normalize_data(data: dict[str, Any] | None) -> dict[str, Any]:
    """The JSON value that will be stored and hashed for `data` (dates, Decimals and UUIDs become text)."""
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise TypeError("audit data must be a dict")
    normalized = json.loads(canonical_json(data))
    assert isinstance(normalized, dict)
    return normalized


def format_occurred_at(value: dt.datetime) -> str:
    if value.tzinfo is None:
        raise ValueError("occurred_at must be an aware datetime")
    return value.astimezone(dt.UTC).isoformat(timespec="microseconds")


def canonical_event(
    *,
    seq: int,
    occurred_at: dt.datetime,
    actor: str,
    action: str,
    subject_type: str,
    subject_id: str,
    data: dict[str, Any],
    prev_hash: str,
    key_id: str = "",
) -> bytes:
    """UTF-8 canonical JSON of an event's fields (occurred_at as a UTC ISO string).

    A keyed event's key_id is part of what is signed, so an event cannot be passed off under another key;
    a legacy event (empty key_id) has no key_id member, which keeps its old hash reproducible.
    """
    payload: dict[str, Any] = {
        "seq": seq,
        "occurred_at": format_occurred_at(occurred_at),
        "actor": actor,
        "action": action,
        "subject_type": subject_type,
        "subject_id": subject_id,
        "data": data,
        "prev_hash": prev_hash,
    }
    if key_id:
        payload["key_id"] = key_id
    return canonical_json(payload).encode("utf-8")


def compute_event_hash(
    *,
    seq: int,
    occurred_at: dt.datetime,
    actor: str,
    action: str,
    subject_type: str,
    subject_id: str,
    data: dict[str, Any],
    prev_hash: str,
) -> str:
    """Hex SHA-256 of the canonical event: the legacy hash of events written before the chain was keyed."""
    return hashlib.sha256(
        canonical_event(
            seq=seq,
            occurred_at=occurred_at,
            actor=actor,
            action=action,
            subject_type=subject_type,
            subject_id=subject_id,
            data=data,
            prev_hash=prev_hash,
        )
    ).hexdigest()


def compute_event_mac(
    key: ChainKey,
    *,
    seq: int,
    occurred_at: dt.datetime,
    actor: str,
    action: str,
    subject_type: str,
    subject_id: str,
    data: dict[str, Any],
    prev_hash: str,
) -> str:
    """Hex HMAC-SHA256 under `key` of the canonical event including the key's identifier."""
    return key.mac(
        canonical_event(
            seq=seq,
            occurred_at=occurred_at,
            actor=actor,
            action=action,
            subject_type=subject_type,
            subject_id=subject_id,
            data=data,
            prev_hash=prev_hash,
            key_id=key.key_id,
        )
    )


# ---------------------------------------------------------------------------------------------------------
# Models


class AuditEventQuerySet(models.QuerySet["AuditEvent"]):
    """Reads only: every bulk write path of the ORM is refused."""

    def update(self, **kwargs: Any) -> int:
        _refuse("QuerySet.update()")

    def delete(self) -> tuple[int, dict[str, int]]:
        _refuse("QuerySet.delete()")

    def _raw_delete(self, using: Any) -> int:  # used by the deletion collector's fast path
        _refuse("deleting audit events")

    def bulk_update(self, objs: Any, fields: Any, batch_size: int | None = None) -> int:
        _refuse("bulk_update()")

    def bulk_create(  # type: ignore[override]
        self, objs: Any, *args: Any, **kwargs: Any
    ) -> list[AuditEvent]:
        _refuse("bulk_create() (use epolicy.audit.services.audit_record)")

    def update_or_create(self, *args: Any, **kwargs: Any) -> NoReturn:
        _refuse("update_or_create()")


AuditEventManager = models.Manager.from_queryset(AuditEventQuerySet)


class AuditEvent(models.Model):
    """One recorded action: who did what to which subject, when, numbered and chained by hash.

    `data` holds the facts needed to understand the action later (numbers, states, amounts, reasons).
    It must never hold clear personal data — no ID numbers, phone numbers, bank accounts, addresses or
    names: record the id of the row that holds them (encrypted) or a masked form instead. The log can
    never be edited, so anything put there stays for good.

    Write events only through `epolicy.audit.services.audit_record`, inside the transaction of the
    change they record.
    """

    seq = models.PositiveBigIntegerField("序号", unique=True, editable=False)
    occurred_at = models.DateTimeField("发生时间", db_index=True, editable=False)
    actor = models.CharField("操作者", max_length=150, editable=False)
    action = models.CharField("动作", max_length=100, editable=False)
    subject_type = models.CharField("对象类型", max_length=64, editable=False)
    subject_id = models.CharField("对象编号", max_length=128, editable=False)
    data = models.JSONField("数据", default=dict, blank=True, editable=False)
    prev_hash = models.CharField("前一事件哈希", max_length=64, editable=False)
    hash = models.CharField("事件哈希", max_length=64, unique=True, editable=False)
    # Identifier of the chain key whose HMAC `hash` is; empty for a legacy event (plain SHA-256).
    key_id = models.CharField("链密钥标识", max_length=16, blank=True, default="", editable=False)

    objects = AuditEventManager()

    class Meta:
        ordering = ["seq"]
        verbose_name = "审计事件"
        verbose_name_plural = "审计事件"
        indexes = [
            models.Index(fields=["subject_type", "subject_id", "seq"], name="audit_event_subject_idx"),
            models.Index(fields=["action", "seq"], name="audit_event_action_idx"),
        ]

    def __str__(self) -> str:
        return f"#{self.seq} {self.action} {self.subject_type}:{self.subject_id} by {self.actor}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding or kwargs.get("force_update") or kwargs.get("update_fields"):
            _refuse("changing a recorded event")
        kwargs["force_insert"] = True
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        _refuse("deleting an event")

    def computed_hash(self) -> str:
        """The hash this event should carry, recomputed from its stored fields (and the key it names).

        Raises `keys.UnknownChainKey` when the event names a key that is not configured.
        """
        fields: dict[str, Any] = {
            "seq": self.seq,
            "occurred_at": self.occurred_at,
            "actor": self.actor,
            "action": self.action,
            "subject_type": self.subject_type,
            "subject_id": self.subject_id,
            "data": self.data,
            "prev_hash": self.prev_hash,
        }
        if not self.key_id:
            return compute_event_hash(**fields)
        return compute_event_mac(verification_key(self.key_id), **fields)


class AuditChainHead(models.Model):
    """The single row (pk=1) holding the last number and hash; appends lock it to extend the chain."""

    last_seq = models.PositiveBigIntegerField("最后序号", default=0)
    last_hash = models.CharField("最后哈希", max_length=64, default=GENESIS_HASH)
    updated_at = models.DateTimeField("更新时间", null=True, blank=True)

    class Meta:
        verbose_name = "审计链头"
        verbose_name_plural = "审计链头"

    def __str__(self) -> str:
        return f"audit chain head #{self.last_seq}"


class AuditAnchor(models.Model):
    """The console's record of one anchor written to both archive locations (see `anchor.py`).

    Verification never relies on these rows: it reads the anchor objects from the archive storages. A row
    whose object is missing from both locations is reported, though.
    """

    seq = models.PositiveBigIntegerField("锚定序号", db_index=True)
    hash = models.CharField("锚定哈希", max_length=64)
    key_id = models.CharField("链密钥标识", max_length=16, blank=True, default="")
    anchored_at = models.DateTimeField("锚定时间")
    timestamped_at = models.DateTimeField("时间戳时间")
    object_key = models.CharField("存档对象名", max_length=255, unique=True)

    class Meta:
        ordering = ["-seq", "-id"]
        verbose_name = "审计锚点"
        verbose_name_plural = "审计锚点"

    def __str__(self) -> str:
        return f"audit anchor #{self.seq} {self.hash[:16]}"
