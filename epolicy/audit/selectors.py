"""Reading the audit log: a subject's history and verification of the whole chain and its anchors."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from django.db.models import Max, QuerySet

from .anchor_scan import Anchor, AnchorScan
from .keys import ChainKey, UnknownChainKey, verification_key
from .models import (
    GENESIS_HASH,
    HEAD_PK,
    AuditChainHead,
    AuditEvent,
    compute_event_hash,
    compute_event_mac,
)

Problem = Literal[
    "hash_mismatch",
    "broken_link",
    "gap",
    "head_mismatch",
    "unknown_key",
    "legacy_after_keyed",
    "truncated",
    "anchor_mismatch",
    "anchor_invalid",
    "anchor_missing",
]

PROBLEM_LABELS_ZH: dict[str, str] = {
    "hash_mismatch": "事件内容与其哈希不符（记录被改动，或链被不持有密钥者重算）",
    "broken_link": "事件与前一事件的哈希链接断开",
    "gap": "事件序号不连续（记录缺失或被插入）",
    "head_mismatch": "链头与最后一条事件不一致",
    "unknown_key": "事件所用的链密钥未配置（密钥被过早撤下，或事件系伪造）",
    "legacy_after_keyed": "已有带密钥的事件之后又出现未加密钥的事件（链被改写）",
    "truncated": "链在锚点固定的事件之前就结束了（末尾的事件被删除）",
    "anchor_mismatch": "锚点固定的事件与库中该序号的事件不符（锚定后链被改写）",
    "anchor_invalid": "锚点的时间戳无效，或不覆盖锚点记录（锚点被伪造或损坏）",
    "anchor_missing": "锚点在某一存储位置缺失",
}

_FIELDS = (
    "seq",
    "occurred_at",
    "actor",
    "action",
    "subject_type",
    "subject_id",
    "data",
    "prev_hash",
    "hash",
    "key_id",
)
MAX_FINDINGS = 100  # a log rewritten wholesale would otherwise print one line per anchor
_SEQ_BATCH = 500


@dataclass(frozen=True)
class Finding:
    """One problem: `seq` is the event it concerns (None for an anchor whose name gives none)."""

    problem: Problem
    seq: int | None
    message: str


@dataclass(frozen=True)
class ChainReport:
    """Outcome of a chain verification.

    events_checked counts the events found intact before the first problem of the chain itself (all of
    them when ok); first_bad_seq, problem and message are those of the first finding (for a gap: the
    first missing number; for a truncation: the first number after the end of the chain). `findings`
    lists every problem (the chain's first, then the head's, then the anchors'), at most MAX_FINDINGS.
    """

    ok: bool
    events_checked: int
    first_bad_seq: int | None
    problem: Problem | None
    message: str
    findings: tuple[Finding, ...] = ()
    findings_total: int = 0
    head_seq: int = 0
    anchors_checked: int = 0  # anchors with a valid token
    newest_anchor: Anchor | None = None

    @property
    def unanchored_events(self) -> int:
        """Events after the newest anchor: a truncation of those cannot be detected (see docs/audit.md)."""
        return self.head_seq - (self.newest_anchor.seq if self.newest_anchor else 0)


def audit_events_for(subject_type: str, subject_id: str) -> QuerySet[AuditEvent]:
    """The audit history of one subject, oldest first."""
    return AuditEvent.objects.filter(subject_type=subject_type, subject_id=str(subject_id)).order_by("seq")


def _recomputed_hash(row: dict[str, Any], key: ChainKey | None) -> str | None:
    fields = {name: row[name] for name in _FIELDS if name not in {"hash", "key_id"}}
    try:
        return compute_event_mac(key, **fields) if key is not None else compute_event_hash(**fields)
    except (TypeError, ValueError, AttributeError):
        return None  # a tampered value that cannot even be serialized


def _head_snapshot() -> tuple[int, str] | None:
    return AuditChainHead.objects.filter(pk=HEAD_PK).values_list("last_seq", "last_hash").first()


@dataclass
class _Walk:
    checked: int = 0
    last_seq: int = 0
    prev_hash: str = GENESIS_HASH
    keyed_seen: bool = False


def _check_row(row: dict[str, Any], walk: _Walk) -> Finding | None:
    seq = row["seq"]
    expected = walk.last_seq + 1
    if seq != expected:
        if seq > expected:
            missing = f"{expected}" if seq == expected + 1 else f"{expected}–{seq - 1}"
            return Finding("gap", expected, f"events {missing} missing: seq {seq} follows seq {expected - 1}")
        return Finding("gap", expected, f"seq {seq} found where seq {expected} was expected")
    key: ChainKey | None = None
    if row["key_id"]:
        try:
            key = verification_key(row["key_id"])
        except UnknownChainKey:
            return Finding(
                "unknown_key",
                seq,
                f"event {seq} is signed with key {row['key_id']!r}, which is not in AUDIT_CHAIN_KEY",
            )
    elif walk.keyed_seen:
        return Finding(
            "legacy_after_keyed", seq, f"event {seq} has no key although keyed events come before it"
        )
    if _recomputed_hash(row, key) != row["hash"]:
        how = "keyed HMAC" if key is not None else "legacy SHA-256"
        return Finding("hash_mismatch", seq, f"event {seq}: stored hash does not match its content ({how})")
    if row["prev_hash"] != walk.prev_hash:
        return Finding(
            "broken_link", seq, f"event {seq}: prev_hash does not match the hash of the event before"
        )
    walk.prev_hash = row["hash"]
    walk.last_seq = seq
    walk.keyed_seen = walk.keyed_seen or key is not None
    walk.checked += 1
    return None


def _walk_chain(head: tuple[int, str] | None, batch_size: int) -> tuple[_Walk, Finding | None]:
    events = AuditEvent.objects.order_by("seq")
    if head is not None:
        events = events.filter(seq__lte=head[0])
    walk = _Walk()
    last_seen = -1
    while True:
        batch = list(events.filter(seq__gt=last_seen).values(*_FIELDS)[:batch_size])
        for row in batch:
            finding = _check_row(row, walk)
            if finding is not None:
                return walk, finding
        if len(batch) < batch_size:
            return walk, None
        last_seen = batch[-1]["seq"]


def _head_findings(head: tuple[int, str] | None, walk: _Walk) -> list[Finding]:
    if head is None:
        if walk.checked:
            return [Finding("head_mismatch", walk.last_seq, "the chain head row is missing but events exist")]
        return []
    head_seq, head_hash = head
    if head_seq != walk.last_seq:
        return [
            Finding(
                "head_mismatch",
                min(head_seq, walk.last_seq) + 1,
                f"head says the last event is {head_seq} but the chain ends at {walk.last_seq}",
            )
        ]
    if head_hash != walk.prev_hash:
        return [Finding("head_mismatch", head_seq, f"head hash differs from the hash of event {head_seq}")]
    beyond = AuditEvent.objects.filter(seq__gt=head_seq).order_by("seq").values_list("seq", flat=True).first()
    if beyond is not None and _head_snapshot() == head:
        # The head did not move, so these rows were not appended by audit_record.
        return [Finding("head_mismatch", beyond, f"event {beyond} lies beyond the head ({head_seq})")]
    return []


def _events_at(seqs: Iterable[int]) -> dict[int, tuple[str, str]]:
    ordered = sorted(set(seqs))
    found: dict[int, tuple[str, str]] = {}
    for start in range(0, len(ordered), _SEQ_BATCH):
        rows = AuditEvent.objects.filter(seq__in=ordered[start : start + _SEQ_BATCH])
        found.update((seq, (h, k)) for seq, h, k in rows.values_list("seq", "hash", "key_id"))
    return found


def _anchor_findings(anchors: tuple[Anchor, ...]) -> list[Finding]:
    """Every anchor's event must exist with the anchored hash and key; a chain ending before one is cut."""
    if not anchors:
        return []
    events = _events_at(a.seq for a in anchors)
    chain_end = AuditEvent.objects.aggregate(end=Max("seq"))["end"] or 0
    findings: list[Finding] = []
    beyond = [a for a in anchors if a.seq > chain_end]
    if beyond:
        newest = beyond[-1]
        findings.append(
            Finding(
                "truncated",
                chain_end + 1,
                f"the chain ends at event {chain_end}, but anchor {newest.object_key}"
                f" (timestamped {newest.timestamped_at.astimezone(dt.UTC):%Y-%m-%d %H:%M:%S} UTC)"
                f" fixes event {newest.seq}: events {chain_end + 1}–{newest.seq} at least were removed",
            )
        )
    for anchor in anchors:
        if anchor.seq > chain_end:
            continue
        event = events.get(anchor.seq)
        if event is None:
            message = f"event {anchor.seq}, fixed by anchor {anchor.object_key}, is missing"
        elif event[0] != anchor.hash:
            message = f"event {anchor.seq} has a different hash from the one anchor {anchor.object_key} fixes"
        elif event[1] != anchor.key_id:
            message = f"event {anchor.seq} names another key than the one anchor {anchor.object_key} fixes"
        else:
            continue
        findings.append(Finding("anchor_mismatch", anchor.seq, message))
    return findings


def audit_verify_chain(batch_size: int = 1000, *, anchors: bool = True) -> ChainReport:
    """Verify every event's HMAC (or legacy hash), the links, numbering, head and every anchor.

    The chain is read in batches of `batch_size` by sequence number, so memory stays flat on a large log;
    its walk stops at the first problem. Anchors are listed from both archive locations first (so none
    is newer than the head read after them) and each checked (token, both copies), then compared with
    the events (`anchors=False` skips them). Events appended while it runs are left for the next run.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")

    scan = _anchor_scan() if anchors else None
    head = _head_snapshot()
    walk, chain_finding = _walk_chain(head, batch_size)
    findings = [chain_finding] if chain_finding else _head_findings(head, walk)
    if scan is not None:
        findings += _anchor_findings(scan.anchors)
        findings += [Finding(p.problem, p.seq, p.message) for p in scan.problems]

    newest = scan.anchors[-1] if scan and scan.anchors else None
    head_seq = head[0] if head else 0
    anchors_checked = len(scan.anchors) if scan else 0
    if not findings:
        message = f"{walk.checked} events intact, head at {head_seq}" if head else "empty chain"
        return ChainReport(
            ok=True,
            events_checked=walk.checked,
            first_bad_seq=None,
            problem=None,
            message=message,
            head_seq=head_seq,
            anchors_checked=anchors_checked,
            newest_anchor=newest,
        )
    first = findings[0]
    return ChainReport(
        ok=False,
        events_checked=walk.checked,
        first_bad_seq=first.seq,
        problem=first.problem,
        message=first.message,
        findings=tuple(findings[:MAX_FINDINGS]),
        findings_total=len(findings),
        head_seq=head_seq,
        anchors_checked=anchors_checked,
        newest_anchor=newest,
    )


def _anchor_scan() -> AnchorScan:
    """The anchors as the configured scanner finds them (epolicy.anchoring.verify.audit_anchors_scan)."""
    from django.conf import settings
    from django.utils.module_loading import import_string

    scan: AnchorScan = import_string(settings.AUDIT_ANCHOR_SCANNER)()
    return scan
