"""Checking anchors: each object in both archive locations, its timestamp token against the trusted TSAs.

`audit_anchors_scan()` lists the anchors (see `anchor.py` for what they are), and
epolicy.audit.selectors compares the valid ones with the events (it finds this function through
settings.AUDIT_ANCHOR_SCANNER: the audit log does not import what sits above it).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from typing import TYPE_CHECKING

from asn1crypto import cms, tsp
from pyhanko.sign.validation.generic_cms import validate_tst_signed_data
from pyhanko.sign.validation.status import TimestampSignatureStatus

from epolicy.audit.anchor_scan import Anchor, AnchorProblem, AnchorScan
from epolicy.audit.models import AuditAnchor

from .anchor import (
    ANCHOR_PREFIX,
    NAME_PATTERN,
    AnchorFormatError,
    anchor_key,
    anchor_locations,
    parse_anchor,
    read_anchor,
    record_digest,
)

if TYPE_CHECKING:
    from django.core.files.storage import Storage

    from epolicy.signing.verify.trust import Trust

logger = logging.getLogger("epolicy.audit")


def verify_token(token_der: bytes, digest: bytes, trust: Trust) -> tuple[dt.datetime | None, str | None]:
    """(genTime, None) when `token_der` is an RFC 3161 token over SHA-256 `digest` signed by a trusted
    TSA that was valid and not revoked at its genTime; else (genTime or None, what is wrong).

    The TSA's certificate is checked at the time the token names (as a document timestamp's is): the
    newest anchors are the ones that matter, and each fixes the whole chain before it.
    """
    from epolicy.signing.verify.trust import Revinfo, timestamp_context, tsa_revoked

    try:
        content_info = cms.ContentInfo.load(token_der, strict=True)
        if content_info["content_type"].native != "signed_data":
            return None, "the token is not a CMS SignedData"
        signed_data = content_info["content"]
        tst_info = signed_data["encap_content_info"]["content"].parsed
        if not isinstance(tst_info, tsp.TSTInfo):
            return None, "the token holds no TSTInfo"
        gen_time: dt.datetime = tst_info["gen_time"].native
        imprint = tst_info["message_imprint"]
        if imprint["hash_algorithm"]["algorithm"].native != "sha256" or (
            imprint["hashed_message"].native != digest
        ):
            return gen_time, "the timestamp token does not cover this record"
        revinfo = Revinfo(crls=trust.crls, ocsps=(), certs=(), verified_crls=trust.crls)
        context = timestamp_context(trust, revinfo, gen_time)
        kwargs = asyncio.run(validate_tst_signed_data(signed_data, context, lambda _algorithm: digest))
        status = TimestampSignatureStatus(**kwargs)
    except Exception as exc:  # any malformed token is just an invalid anchor
        detail = (str(exc).splitlines() or [""])[0][:200]
        return None, f"the timestamp token cannot be validated ({exc.__class__.__name__}: {detail})"
    if not (status.intact and status.valid):
        return gen_time, "the timestamp token's signature does not verify"
    if not status.trusted:
        return gen_time, "the timestamp token is not from a trusted timestamp authority"
    revocation = tsa_revoked(status, revinfo, gen_time)
    if revocation is not None:
        return gen_time, f"the timestamp authority's certificate was revoked at {revocation.revoked_at}"
    return gen_time, None


def _list_names(storage: Storage) -> list[str]:
    """Object names directly under ANCHOR_PREFIX (anchors are never nested)."""
    try:
        _directories, files = storage.listdir(ANCHOR_PREFIX)
    except FileNotFoundError:  # a local location never written to
        return []
    return [f"{ANCHOR_PREFIX}/{name}" for name in files]


def _seq_of(name: str) -> int | None:
    match = NAME_PATTERN.match(name.rpartition("/")[2])
    return int(match.group(1)) if match else None


class _Checker:
    def __init__(self) -> None:
        self._trust: Trust | None = None
        self._trust_problem: str | None = None

    def trust(self) -> Trust | None:
        if self._trust is None and self._trust_problem is None:
            from epolicy.common.errors import ApplicationError
            from epolicy.signing.verify import load_trust

            try:
                self._trust = load_trust()
            except ApplicationError:
                self._trust_problem = "no trusted timestamp authority is configured (PKI missing)"
        return self._trust

    def check(self, name: str, data: bytes) -> tuple[Anchor | None, str | None]:
        try:
            record, token = parse_anchor(data)
        except AnchorFormatError as exc:
            return None, str(exc)
        if name != anchor_key(record["seq"], record["hash"]):
            return None, "the object's name does not match the seq and hash of its record"
        trust = self.trust()
        if trust is None:
            return None, self._trust_problem
        gen_time, problem = verify_token(token, record_digest(record), trust)
        if problem is not None or gen_time is None:
            return None, problem
        return Anchor(
            name, record["seq"], record["hash"], record["key_id"], record["anchored_at"], gen_time
        ), None


def audit_anchors_scan() -> AnchorScan:
    """Every anchor object of both locations, each copy checked; plus anchors the console rows name.

    Reports a copy missing from a location, an unreadable or forged copy (bad token, token over other
    data, untrusted TSA, name not matching the record) and two valid copies that differ.
    """
    stores = anchor_locations()
    listed: dict[str, set[str]] = {}
    problems: list[AnchorProblem] = []
    for location, storage in stores.items():
        try:
            listed[location] = set(_list_names(storage))
        except Exception as exc:
            logger.exception("audit verify: cannot list the anchors in %s", location)
            listed[location] = set()
            problems.append(
                AnchorProblem(
                    "anchor_missing", ANCHOR_PREFIX, None, location, f"cannot list {location}: {exc}"
                )
            )
    # The console's rows are not trusted, but one whose anchor is gone from both locations is a finding.
    names = set().union(*listed.values()) | set(AuditAnchor.objects.values_list("object_key", flat=True))

    checker = _Checker()
    anchors: list[Anchor] = []
    for name in sorted(names):
        seq = _seq_of(name)
        copies: dict[str, bytes] = {}
        for location, storage in stores.items():
            # Not listed: look again, an anchor written while the other location was listed is there now.
            try:
                if name in listed[location] or storage.exists(name):
                    copies[location] = read_anchor(storage, name)
                    continue
                message = f"anchor {name} is missing from {location}"
            except FileNotFoundError:
                message = f"anchor {name} is missing from {location}"
            except Exception as exc:
                logger.exception("audit verify: cannot read %s from %s", name, location)
                message = f"anchor {name} cannot be read from {location}: {exc.__class__.__name__}"
            problems.append(AnchorProblem("anchor_missing", name, seq, location, message))
        # Identical copies are checked once (a token check costs ~25 ms, most of it in pyHanko).
        by_bytes: dict[bytes, list[str]] = {}
        for location, data in copies.items():
            by_bytes.setdefault(data, []).append(location)
        valid: list[Anchor] = []
        for data, where in by_bytes.items():
            anchor, problem = checker.check(name, data)
            if anchor is not None:
                valid.append(anchor)
            else:
                places = " and ".join(where)
                problems.append(
                    AnchorProblem(
                        "anchor_invalid", name, seq, places, f"anchor {name} in {places}: {problem}"
                    )
                )
        if len(valid) > 1:
            problems.append(
                AnchorProblem("anchor_invalid", name, seq, None, f"the two copies of anchor {name} differ")
            )
        anchors.extend(dict.fromkeys(valid))  # each record a valid token vouches for, once
    anchors.sort(key=lambda a: (a.seq, a.object_key))
    return AnchorScan(anchors=tuple(anchors), problems=tuple(problems))
