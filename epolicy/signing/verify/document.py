"""verify_pdf: the verdict on a whole file, from the verdicts on its signatures and timestamps."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import logging

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.reader import PdfFileReader

from epolicy.common import clock

from .additions import byte_range_end, unsigned_additions
from .report import (
    CHECK_NAMES,
    MESSAGES,
    SEVERITY,
    Check,
    DocumentTimestampInfo,
    SignatureInfo,
    VerificationReport,
    make_report,
)
from .signatures import check_signature
from .timestamps import check_document_timestamp
from .trust import (
    Trust,
    load_trust,
    revinfo_of,
)

logger = logging.getLogger(__name__)

# Kinds of document that are only genuine with the insurer's seal on them.
SEAL_REQUIRED_KINDS = frozenset({"policy", "endorsement"})
# Bounds that keep a hostile file from tying up a worker (stream decoding is bounded by pyHanko).
MAX_INPUT_BYTES = 32 * 1024 * 1024
MAX_REVISIONS = 64
MAX_SIGNATURES = 16


def verify_pdf(
    data: bytes, *, at: dt.datetime | None = None, trust: Trust | None = None
) -> VerificationReport:
    """Judge a PDF: genuine if every signature passes all five checks, and sealed if a policy.

    `at` is the validation time (default: the platform clock). `trust` is what to trust (default:
    `load_trust()`, read from the database); a verification worker, which has no database, is given it.
    Raises ApplicationError('pki_missing') if the platform has no root to trust: that is not the
    file's fault.
    """
    data = bytes(data)
    sha = hashlib.sha256(data).hexdigest()
    if trust is None:
        trust = load_trust()
    if b"%PDF-" not in data[:1024]:
        return make_report("not_pdf", sha)
    if len(data) > MAX_INPUT_BYTES:
        return make_report("malformed", sha)
    moment = at or clock.now()
    try:
        return _verify(data, sha, trust, moment)
    except Exception as exc:
        # A hostile or broken file can make the parser fail anywhere; that is a verdict, not an error.
        logger.info("verify_pdf: unreadable PDF %s: %r", sha, exc)
        logger.debug("verify_pdf: traceback", exc_info=True)
        return make_report("malformed", sha, validation_time=moment)


def _verify(data: bytes, sha: str, trust: Trust, at: dt.datetime) -> VerificationReport:
    try:
        reader = PdfFileReader(io.BytesIO(data), strict=True)
    except Exception as exc:
        logger.info("verify_pdf: PDF does not parse %s: %r", sha, exc)
        return make_report("malformed", sha, validation_time=at)
    if reader.encrypted:
        return make_report("encrypted", sha, validation_time=at)
    if reader.xrefs.total_revisions > MAX_REVISIONS:
        return make_report("malformed", sha, validation_time=at)

    embedded = list(reader.embedded_signatures)
    if len(embedded) > MAX_SIGNATURES:
        return make_report("malformed", sha, validation_time=at)
    regular = [s for s in embedded if s.sig_object_type == "/Sig"]
    doc_timestamps = sorted(
        (s for s in embedded if s.sig_object_type == "/DocTimeStamp"), key=lambda s: s.signed_revision
    )
    if not regular:
        kind, number = _keywords(reader, None)
        return make_report("not_signed", sha, kind=kind, number=number, validation_time=at)
    # Document kind and number as they were when first signed: a later update cannot change them.
    first = min(regular, key=lambda s: s.signed_revision)
    kind, number = _keywords(reader, first.signed_revision)
    revinfo, has_dss = revinfo_of(reader, trust)

    # What follows the last signature, unless proven to be validation data or document timestamps.
    last = max(regular, key=lambda s: s.signed_revision)
    last_revision = last.signed_revision
    findings = unsigned_additions(data, reader, last, doc_timestamps)
    additions = tuple(f.message_zh for f in findings)

    problems: list[str] = []
    # Document timestamps, last first: each is a proof of existence for everything before it.
    ts_infos: list[DocumentTimestampInfo] = []
    proven: list[tuple[int, dt.datetime]] = []  # (signed revision, genTime) of the valid ones
    next_proof: dt.datetime | None = None
    for ts in reversed(doc_timestamps):
        ts_end = byte_range_end(ts)
        ts_info, problem = check_document_timestamp(
            ts, trust, revinfo, next_proof or at, later_additions=any(f.offset >= ts_end for f in findings)
        )
        ts_infos.append(ts_info)
        if problem:
            problems.append(problem)
            next_proof = None
        else:
            next_proof = ts_info.timestamp_time
            assert next_proof is not None
            proven.append((ts.signed_revision, next_proof))
    ts_infos.reverse()

    infos: list[SignatureInfo] = []
    for sig in regular:
        later = [when for revision, when in proven if revision > sig.signed_revision]
        proof = min(later) if later else at
        info = check_signature(
            sig,
            trust,
            revinfo,
            at,
            proof,
            is_last=sig.signed_revision == last_revision,
            additions=additions,
        )
        infos.append(info)
        if info.problem:
            problems.append(info.problem)

    last_ts = ts_infos[-1] if ts_infos else None
    lta = (
        has_dss
        and last_ts is not None
        and all(t.valid for t in ts_infos)
        and doc_timestamps[-1].signed_revision > last_revision
    )
    if problems:
        code = min(problems, key=SEVERITY.index)
    elif kind in SEAL_REQUIRED_KINDS and not any(i.signer_role == "insurer" and i.valid for i in infos):
        code = "not_insurer"
    else:
        code = "genuine"
    return make_report(
        code,
        sha,
        tuple(infos),
        kind,
        number,
        document_timestamps=tuple(ts_infos),
        has_dss=has_dss,
        lta=lta,
        lta_valid_until=last_ts.tsa_certificate_not_after if lta and last_ts is not None else None,
        validation_time=at,
        unsigned_additions=additions,
        updates_after_last_signature=reader.xrefs.total_revisions - 1 - last_revision,
    )


def _keywords(reader: PdfFileReader, revision: int | None) -> tuple[str | None, str | None]:
    """kind and number from /Keywords "epolicy-kind=policy; epolicy-number=…", as of `revision` if given."""
    try:
        handler = reader.get_historical_resolver(revision) if revision is not None else reader
        info = handler.trailer_view.raw_get("/Info")
        if isinstance(info, generic.IndirectObject):
            # Resolve through the revision's own view: the current file may hold a later version of /Info.
            info = handler.get_object(info.reference)
        keywords = info.get("/Keywords") if isinstance(info, generic.DictionaryObject) else None
        if keywords is None:
            return None, None
        values: dict[str, str] = {}
        for part in str(keywords).split(";"):
            key, sep, value = part.partition("=")
            if sep:
                values[key.strip()] = value.strip()
        return values.get("epolicy-kind") or None, values.get("epolicy-number") or None
    except Exception:
        return None, None


__all__ = [
    "CHECK_NAMES",
    "MESSAGES",
    "Check",
    "DocumentTimestampInfo",
    "SignatureInfo",
    "VerificationReport",
    "verify_pdf",
]
