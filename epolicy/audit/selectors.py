"""Reading the audit log: a subject's history and verification of the whole chain."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from django.db.models import QuerySet

from .models import GENESIS_HASH, HEAD_PK, AuditChainHead, AuditEvent, compute_event_hash

Problem = Literal["hash_mismatch", "broken_link", "gap", "head_mismatch"]

PROBLEM_LABELS_ZH: dict[str, str] = {
    "hash_mismatch": "事件内容与其哈希不符（记录被改动）",
    "broken_link": "事件与前一事件的哈希链接断开",
    "gap": "事件序号不连续（记录缺失或被插入）",
    "head_mismatch": "链头与最后一条事件不一致",
}

_FIELDS = ("seq", "occurred_at", "actor", "action", "subject_type", "subject_id", "data", "prev_hash", "hash")


@dataclass(frozen=True)
class ChainReport:
    """Outcome of a chain verification.

    events_checked counts the events found intact before the first problem (all of them when ok);
    first_bad_seq is the first sequence number at which the chain is wrong (for a gap: the first
    missing number).
    """

    ok: bool
    events_checked: int
    first_bad_seq: int | None
    problem: Problem | None
    message: str


def audit_events_for(subject_type: str, subject_id: str) -> QuerySet[AuditEvent]:
    """The audit history of one subject, oldest first."""
    return AuditEvent.objects.filter(subject_type=subject_type, subject_id=str(subject_id)).order_by("seq")


def _bad(problem: Problem, seq: int, checked: int, message: str) -> ChainReport:
    return ChainReport(ok=False, events_checked=checked, first_bad_seq=seq, problem=problem, message=message)


def _recomputed_hash(row: dict[str, Any]) -> str | None:
    try:
        return compute_event_hash(
            seq=row["seq"],
            occurred_at=row["occurred_at"],
            actor=row["actor"],
            action=row["action"],
            subject_type=row["subject_type"],
            subject_id=row["subject_id"],
            data=row["data"],
            prev_hash=row["prev_hash"],
        )
    except (TypeError, ValueError, AttributeError):
        return None  # a tampered value that cannot even be serialized


def _head_snapshot() -> tuple[int, str] | None:
    return AuditChainHead.objects.filter(pk=HEAD_PK).values_list("last_seq", "last_hash").first()


def audit_verify_chain(batch_size: int = 1000) -> ChainReport:
    """Recompute every event's hash and check links, numbering and the head; stops at the first problem.

    Reads in batches of `batch_size` by sequence number, so memory stays flat on a large log. Events
    appended while it runs (after the head it read first) are left for the next run.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")

    head = _head_snapshot()
    events = AuditEvent.objects.order_by("seq")
    if head is not None:
        events = events.filter(seq__lte=head[0])

    expected_seq = 1
    prev_hash = GENESIS_HASH
    checked = 0
    last_seen = -1
    while True:
        batch = list(events.filter(seq__gt=last_seen).values(*_FIELDS)[:batch_size])
        for row in batch:
            seq = row["seq"]
            if seq != expected_seq:
                if seq > expected_seq:
                    missing = f"{expected_seq}" if seq == expected_seq + 1 else f"{expected_seq}–{seq - 1}"
                    message = f"events {missing} missing: seq {seq} follows seq {expected_seq - 1}"
                else:
                    message = f"seq {seq} found where seq {expected_seq} was expected"
                return _bad("gap", expected_seq, checked, message)
            if _recomputed_hash(row) != row["hash"]:
                return _bad(
                    "hash_mismatch", seq, checked, f"event {seq}: stored hash does not match its content"
                )
            if row["prev_hash"] != prev_hash:
                return _bad(
                    "broken_link",
                    seq,
                    checked,
                    f"event {seq}: prev_hash does not match the hash of the event before",
                )
            prev_hash = row["hash"]
            expected_seq = seq + 1
            checked += 1
        if len(batch) < batch_size:
            break
        last_seen = batch[-1]["seq"]

    last_seq = expected_seq - 1
    if head is None:
        if checked:
            return _bad("head_mismatch", last_seq, checked, "the chain head row is missing but events exist")
        return ChainReport(ok=True, events_checked=0, first_bad_seq=None, problem=None, message="empty chain")

    head_seq, head_hash = head
    if head_seq != last_seq:
        return _bad(
            "head_mismatch",
            min(head_seq, last_seq) + 1,
            checked,
            f"head says the last event is {head_seq} but the chain ends at {last_seq}",
        )
    if head_hash != prev_hash:
        return _bad(
            "head_mismatch", head_seq, checked, f"head hash differs from the hash of event {head_seq}"
        )

    beyond = AuditEvent.objects.filter(seq__gt=head_seq).order_by("seq").values_list("seq", flat=True).first()
    if beyond is not None and _head_snapshot() == head:
        # The head did not move, so these rows were not appended by audit_record.
        return _bad("head_mismatch", beyond, checked, f"event {beyond} lies beyond the head ({head_seq})")

    return ChainReport(
        ok=True,
        events_checked=checked,
        first_bad_seq=None,
        problem=None,
        message=f"{checked} events intact, head at {head_seq}",
    )
