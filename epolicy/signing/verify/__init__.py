"""Verifying an uploaded PDF: is it an untouched document signed by this insurer (or its applicant)?

pyHanko's checks are combined here into one verdict, because no single indicator is enough: a file whose
page content was swapped by an incremental update still has an intact, trusted signature over its
earlier revision (pyHanko even reports the AdES indication as passed), so the verdict also needs the
coverage and the modification level of every signature. A document is genuine only when, for every
signature, all five checks hold (motor standard §3.8, §6.4):

    完整性   the signature value matches the signed byte ranges (and its timestamp token is intact)
    证书链   the signer's certificate chains to one of the insurer's roots and was valid when it signed
    吊销状态 revocation data (our CRLs, and those in the document's DSS) says good at signing time
    时间戳   the signature timestamp is intact, from a trusted TSA, and that TSA was valid when proven
    签后修改 after the signature only DSS updates and document timestamps were added (or nothing): what
             a reader shows is judged by pyHanko's difference analysis, the rest (bytes outside any
             revision, objects nothing references, changed properties) by `additions` — anything not
             proven to be validation data is `unsigned_additions`, listed in the report

Times (PAdES B-LTA, offline, no fetching). Document timestamps are checked from the last one back: the
last at the validation time, each earlier one at the time of the next (which proves it existed then).
A signature's timestamp is checked at the earliest valid document timestamp after it (or at the
validation time), and the signer's certificate at the time its timestamp proves. So a B-LTA document,
renewed before each TSA certificate expires (`lta.lta_renew_document`), verifies decades later; a B-T
document verifies while its TSA's certificate is valid (10 years) and is `expired` after that.

The package: `document` (verify_pdf, the verdict on a file), `signatures` (one signature's five checks),
`additions` (what follows the last signature: proven validation data and timestamps, or not),
`timestamps` (document and signature timestamps), `trust` (what is trusted, kept per process while it
is unchanged), `report` (the report and its Chinese messages) and `sm2` (the five checks of an SM2/SM3
seal, which pyHanko cannot validate: docs/sm2-signing.md).

Nothing here raises on bad input: every failure becomes a report with a stable code and a message an
ordinary person can act on.
"""

from .document import MAX_INPUT_BYTES, SEAL_REQUIRED_KINDS, logger, verify_pdf
from .report import (
    CHECK_CHAIN,
    CHECK_INTEGRITY,
    CHECK_MODIFICATION,
    CHECK_NAMES,
    CHECK_REVOCATION,
    CHECK_TIMESTAMP,
    MESSAGES,
    Check,
    DocumentTimestampInfo,
    SignatureInfo,
    VerificationReport,
)
from .trust import Trust, clear_trust_cache, load_trust

__all__ = [
    "CHECK_CHAIN",
    "CHECK_INTEGRITY",
    "CHECK_MODIFICATION",
    "CHECK_NAMES",
    "CHECK_REVOCATION",
    "CHECK_TIMESTAMP",
    "MAX_INPUT_BYTES",
    "MESSAGES",
    "SEAL_REQUIRED_KINDS",
    "Check",
    "DocumentTimestampInfo",
    "SignatureInfo",
    "Trust",
    "VerificationReport",
    "clear_trust_cache",
    "load_trust",
    "logger",
    "verify_pdf",
]
