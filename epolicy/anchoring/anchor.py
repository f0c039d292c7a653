"""Anchors: the head of the audit chain, timestamped (RFC 3161) and written once to both archive locations.

Whoever holds the database and the chain key can rewrite or cut the end of the chain and recompute it;
the chain alone cannot show that. An anchor fixes, outside the database, which event was the head at a
time a timestamp authority vouches for: the record `{seq, hash, key_id, anchored_at}` (canonical JSON),
a timestamp token over its SHA-256, stored as `audit-anchors/<seq:012d>-<hash[:16]>.json` in the
archive's primary location and in its second copy, both write-once. Verification lists those objects,
checks each token against the trusted TSA certificates (`verify`), and then the chain against
every anchor (`selectors`): a chain that ends before an anchor's event was truncated; an anchored event
whose hash differs was rewritten. Events after the newest anchor are protected by the key only.

The object (UTF-8 JSON): {"format": ANCHOR_FORMAT, "record": {...}, "token": base64 of the DER
ContentInfo of the RFC 3161 token}. `AuditAnchor` rows are a copy for the console, never trusted.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import datetime as dt
import hashlib
import json
import logging
import re
from typing import TYPE_CHECKING, Any, Literal

from asn1crypto import cms
from django.core.files.base import ContentFile
from django.db import transaction

from epolicy.archive.storage import AUDIT_ANCHOR_PREFIX
from epolicy.audit.models import HEAD_PK, AuditAnchor, AuditChainHead, AuditEvent, canonical_json
from epolicy.common import clock

if TYPE_CHECKING:
    from django.core.files.storage import Storage

# Anchoring sits above the audit log, the archive and signing (it uses all three); the audit log reaches
# back only through settings.AUDIT_ANCHOR_SCANNER, the archive only through AUDIT_ANCHOR_PREFIX.

logger = logging.getLogger("epolicy.audit")

ANCHOR_PREFIX = AUDIT_ANCHOR_PREFIX
ANCHOR_FORMAT = "epolicy-audit-anchor/1"
MAX_ANCHOR_BYTES = 64 * 1024  # a token with its TSA certificate is a few kB
NAME_PATTERN = re.compile(r"^(\d{12})-([0-9a-f]{16})\.json$")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_KEY_ID = re.compile(r"^[0-9a-f]{0,16}$")

Status = Literal["anchored", "unchanged", "repaired", "empty", "inconsistent"]


def anchor_key(seq: int, hash_: str) -> str:
    """Object name of the anchor of event `seq` with hash `hash_`."""
    return f"{ANCHOR_PREFIX}/{seq:012d}-{hash_[:16]}.json"


def record_digest(record: dict[str, Any]) -> bytes:
    """SHA-256 of the canonical JSON of an anchor record: what the timestamp token covers."""
    return hashlib.sha256(canonical_json(record).encode("utf-8")).digest()


def anchor_locations() -> dict[str, Storage]:
    from epolicy.archive.storage import BACKUP, PRIMARY, archive_storage, backup_storage

    return {PRIMARY: archive_storage(), BACKUP: backup_storage()}


# ---------------------------------------------------------------------------------------------------------
# Writing


@dataclasses.dataclass(frozen=True)
class AnchorResult:
    status: Status
    seq: int | None = None
    hash: str | None = None
    object_key: str | None = None
    message: str = ""

    def as_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _head_and_event() -> tuple[int, str, tuple[str, str] | None] | None:
    with transaction.atomic():  # short: no lock, one consistent read of the head and its event
        head = AuditChainHead.objects.filter(pk=HEAD_PK).values_list("last_seq", "last_hash").first()
        if head is None or head[0] == 0:
            return None
        event = AuditEvent.objects.filter(seq=head[0]).values_list("hash", "key_id").first()
    return head[0], head[1], event


def _new_anchor(seq: int, hash_: str, key_id: str) -> bytes:
    from epolicy.signing.tsa import timestamper

    record = {
        "seq": seq,
        "hash": hash_,
        "key_id": key_id,
        "anchored_at": clock.now().astimezone(dt.UTC).isoformat(timespec="microseconds"),
    }
    token = asyncio.run(timestamper().async_timestamp(record_digest(record), "sha256"))
    document = {"format": ANCHOR_FORMAT, "record": record, "token": base64.b64encode(token.dump()).decode()}
    return canonical_json(document).encode("utf-8")


def read_anchor(storage: Storage, name: str) -> bytes:
    with storage.open(name, "rb") as fh:
        data: bytes = fh.read(MAX_ANCHOR_BYTES + 1)
    return data


def _save_once(storage: Storage, name: str, data: bytes) -> bytes:
    """Write `data` under `name`; when another run wrote the name first, return (and keep) its bytes."""
    from epolicy.archive.storage import ArchiveOverwriteRefused

    try:
        storage.save(name, ContentFile(data, name=name))
    except ArchiveOverwriteRefused:
        theirs = read_anchor(storage, name)
        return theirs if _matches(name, theirs) else data
    return data


def _matches(name: str, data: bytes) -> bool:
    """Whether `data` reads as an anchor object whose record is the one its name says."""
    try:
        record, _token = parse_anchor(data)
    except AnchorFormatError:
        return False
    return name == anchor_key(record["seq"], record["hash"])


def _remember(name: str, data: bytes) -> None:
    record, token = parse_anchor(data)
    AuditAnchor.objects.get_or_create(
        object_key=name,
        defaults={
            "seq": record["seq"],
            "hash": record["hash"],
            "key_id": record["key_id"],
            "anchored_at": dt.datetime.fromisoformat(record["anchored_at"]),
            "timestamped_at": _gen_time(token),
        },
    )


def audit_anchor() -> AnchorResult:
    """Anchor the chain's head in both archive locations, unless an anchor of this very head exists.

    The head is read in a short transaction and nothing is locked while the timestamp is obtained. An
    anchor present in one location only is copied to the other. Idempotent; safe to run concurrently
    (the primary copy is written first, and a run that finds it taken copies the winner's bytes).
    """
    state = _head_and_event()
    if state is None:
        return AnchorResult(status="empty", message="the audit log is empty")
    seq, hash_, event = state
    if event is None or event[0] != hash_:
        logger.error("audit anchor: the head (%s) does not match its event; not anchored", seq)
        return AnchorResult(
            status="inconsistent", seq=seq, hash=hash_, message="the chain head does not match its event"
        )
    newest = AuditAnchor.objects.order_by("-seq").values_list("seq", flat=True).first()
    if newest is not None and newest > seq:
        logger.error("audit anchor: the head (%s) is behind an earlier anchor (%s): truncated?", seq, newest)

    name = anchor_key(seq, hash_)
    stores = anchor_locations()
    present = {location: storage.exists(name) for location, storage in stores.items()}
    status: Status
    if any(present.values()):
        source = next(location for location, there in present.items() if there)
        data = read_anchor(stores[source], name)
        if not _matches(name, data):
            # Not ours (written write-once by someone else): never copy it, let verification report it.
            logger.error("audit anchor: %s in %s is not a valid anchor; not anchored", name, source)
            return AnchorResult(
                status="inconsistent", seq=seq, hash=hash_, object_key=name, message=f"{name} is unreadable"
            )
        status = "unchanged" if all(present.values()) else "repaired"
    else:
        data = _new_anchor(seq, hash_, event[1])
        status = "anchored"
    for location, storage in stores.items():  # the primary first
        if not present[location]:
            data = _save_once(storage, name, data)
    _remember(name, data)
    if status != "unchanged":
        logger.info("audit anchor: %s %s", status, name)
    return AnchorResult(status=status, seq=seq, hash=hash_, object_key=name)


# ---------------------------------------------------------------------------------------------------------
# Reading


class AnchorFormatError(ValueError):
    pass


def parse_anchor(data: bytes) -> tuple[dict[str, Any], bytes]:
    """The record and the token DER of an anchor object; AnchorFormatError when it is not one."""
    if len(data) > MAX_ANCHOR_BYTES:
        raise AnchorFormatError("object too large")
    try:
        document = json.loads(data.decode("utf-8"))
        record = document["record"]
        token = base64.b64decode(document["token"], validate=True)
    except (ValueError, KeyError, TypeError) as exc:
        raise AnchorFormatError(f"not an anchor object ({exc.__class__.__name__})") from None
    if not isinstance(document, dict) or document.get("format") != ANCHOR_FORMAT:
        raise AnchorFormatError("unknown anchor format")
    if not isinstance(record, dict) or set(record) != {"seq", "hash", "key_id", "anchored_at"}:
        raise AnchorFormatError("the record must hold exactly seq, hash, key_id and anchored_at")
    seq, hash_, key_id, anchored_at = (record[k] for k in ("seq", "hash", "key_id", "anchored_at"))
    if not (isinstance(seq, int) and not isinstance(seq, bool) and seq > 0):
        raise AnchorFormatError("seq must be a positive integer")
    if not (isinstance(hash_, str) and _HEX64.match(hash_)):
        raise AnchorFormatError("hash must be 64 lowercase hex digits")
    if not (isinstance(key_id, str) and _KEY_ID.match(key_id)):
        raise AnchorFormatError("bad key_id")
    try:
        when = dt.datetime.fromisoformat(anchored_at)
    except (TypeError, ValueError):
        raise AnchorFormatError("anchored_at is not an ISO datetime") from None
    if when.tzinfo is None:
        raise AnchorFormatError("anchored_at has no time zone")
    return record, token


def _gen_time(token_der: bytes) -> dt.datetime:
    info = cms.ContentInfo.load(token_der)["content"]["encap_content_info"]["content"].parsed
    gen_time: dt.datetime = info["gen_time"].native
    return gen_time
