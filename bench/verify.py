"""Verification throughput: our ``verify_pdf`` against pyHanko's default validation path, same documents.

    .venv/bin/python -m bench.verify [--docs N] [--lta] [--smoke] [--json PATH]

In a fresh environment (temporary SQLite database and development PKI) the bench issues N distinct
e-policies the way the platform does (``render_epolicy`` + ``seal_document``; with ``--lta`` also
``lta_extend``, as the platform archives and hands them out), then verifies every one of them, one
process, with

- **pyhanko**: what pyHanko's documentation shows, per document: ``PdfFileReader`` on the bytes, the
  embedded signature, ``validate_pdf_signature(sig, ValidationContext(trust_roots=[root],
  allow_fetching=False))``; a document passes when ``bottom_line`` is true;
- **ours**: ``verify_pdf(data)`` (trust loaded from the database, every signature, timestamp, coverage,
  modification level and the signer's role judged); a document passes when it is ``genuine``.

- **pyhanko + library fixes** (informative): the same as *pyhanko* with the corrections the signing app
  makes to its libraries at start-up (``epolicy.signing.asn1fix``, ``asn1names``, ``asn1certs`` and
  ``hexstrings``);
  *pyhanko* itself, the baseline, runs with the libraries as they ship.

Each starts with one uncounted verification. Every document must pass both verifiers, and a copy with one
byte changed must fail both; otherwise the bench exits with status 1. The target (≥ 200 verifications
of a freshly issued e-policy per second, ours, one process) is reported, never enforced; so is the rate
the CPU time alone would give (1000 / median CPU ms), which other load on a shared machine disturbs less.
"""

from __future__ import annotations

import io
import sys
import time
from collections import Counter
from typing import Any

from bench import _common

THROUGHPUT_TARGET = 200.0  # verifications per second, ours, one process


def issue_documents(count: int, *, lta: bool = False) -> list[bytes]:
    """`count` distinct sealed e-policies (PAdES B-T); with `lta`, each also extended to B-LTA (its
    validation data in a DSS and a document timestamp), as the platform archives and hands them out."""
    from epolicy.documents.epolicy_form import render_epolicy
    from epolicy.signing.lta import lta_extend
    from epolicy.signing.signers import seal_document

    out = []
    for index in range(count):
        rendered = render_epolicy(_common.sample_epolicy(index))
        sealed = seal_document(rendered.pdf, box=rendered.signature_box).pdf
        out.append(lta_extend(sealed) if lta else sealed)
    return out


class PyHankoDefault:
    label = "pyHanko default"
    fixes = False  # the libraries as they ship: the baseline

    def __init__(self, *, fixes: bool = False) -> None:
        if fixes:
            self.label, self.fixes = "pyHanko default + library fixes", True
        from asn1crypto import x509 as asn1_x509
        from cryptography.hazmat.primitives import serialization

        from epolicy.signing import pki

        # The insurer's root, as a relying party would configure it once.
        self._root = asn1_x509.Certificate.load(pki.trust_roots()[0].public_bytes(serialization.Encoding.DER))

    def check(self, data: bytes) -> tuple[bool, str]:
        from pyhanko.pdf_utils.reader import PdfFileReader
        from pyhanko.sign.validation import validate_pdf_signature
        from pyhanko_certvalidator import ValidationContext

        try:
            reader = PdfFileReader(io.BytesIO(data))
            signatures = reader.embedded_signatures
            if not signatures:
                return False, "no signature"
            status = validate_pdf_signature(
                signatures[0], ValidationContext(trust_roots=[self._root], allow_fetching=False)
            )
        except Exception as exc:
            return False, type(exc).__name__
        return bool(status.bottom_line), "bottom_line" if status.bottom_line else status.summary()


class Ours:
    label = "ours (verify_pdf)"
    fixes = True  # as deployed: the signing app applies them at start-up

    def __init__(self) -> None:
        from epolicy.signing.verify import verify_pdf

        self._verify = verify_pdf

    def check(self, data: bytes) -> tuple[bool, str]:
        report = self._verify(data)
        return report.genuine, report.code


def measure(verifier: Any, documents: list[bytes], warmup: bytes) -> dict[str, Any]:
    with _common.library_fixes(verifier.fixes):
        return _measure(verifier, documents, warmup)


def _measure(verifier: Any, documents: list[bytes], warmup: bytes) -> dict[str, Any]:
    verifier.check(warmup)
    times: list[float] = []
    cpu: list[float] = []
    outcomes: Counter[str] = Counter()
    passed = 0
    started = time.perf_counter()
    for data in documents:
        t0, c0 = time.perf_counter(), time.process_time()
        ok, outcome = verifier.check(data)
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        outcomes[outcome] += 1
        passed += ok
    wall = time.perf_counter() - started
    return {
        "label": verifier.label,
        "docs": len(documents),
        "wall_s": round(wall, 3),
        "per_s": _common.rate(len(documents), wall),
        "ms": _common.ms_stats(times),
        "cpu_ms": _common.ms_stats(cpu),
        "passed": passed,
        "outcomes": dict(outcomes),
    }


def flipped(data: bytes) -> bytes:
    """A copy with one byte changed a third of the way in: inside the signed byte range (the signature's
    /Contents, which the range leaves out, is near the end of the file)."""
    at = len(data) // 3
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :]


def main(argv: list[str] | None = None) -> int:
    parser = _common.base_parser(__doc__.splitlines()[0], default_docs=100)
    parser.add_argument(
        "--lta",
        action="store_true",
        help="verify the e-policies as handed out (B-LTA: DSS and a document timestamp), not as sealed",
    )
    args = parser.parse_args(argv)
    if args.smoke:
        args.docs = 3
    if args.docs < 1:
        parser.error("--docs must be at least 1")

    info = _common.machine()  # before the set-up below adds to the load average
    base = _common.prepare_environment(keep=args.keep)
    form = "B-LTA, as handed out" if args.lta else "B-T, as sealed"
    print(f"verify bench: {args.docs} e-policies ({form}); {_common.describe_machine(info)}", flush=True)
    if warning := _common.load_warning(info):
        print(warning, flush=True)
    *documents, warmup = issue_documents(args.docs + 1, lta=args.lta)

    verifiers = [PyHankoDefault(), Ours(), PyHankoDefault(fixes=True)]
    runs = [measure(v, documents, warmup) for v in verifiers]
    tampered = flipped(documents[0])
    sanity = {}
    for v in verifiers:
        with _common.library_fixes(v.fixes):
            sanity[v.label] = dict(zip(("passed", "outcome"), v.check(tampered), strict=True))

    pyhanko, ours, pyhanko_fixed = runs
    result = {
        "bench": "verify",
        "machine": {**info, "load_average_after": _common.machine()["load_average"]},
        "params": {"docs": args.docs, "smoke": args.smoke, "lta": args.lta},
        "runs": runs,
        "ratio": {
            "ours_vs_pyhanko": round(ours["per_s"] / pyhanko["per_s"], 2) if pyhanko["per_s"] else None,
            "ours_vs_pyhanko_with_library_fixes": (
                round(ours["per_s"] / pyhanko_fixed["per_s"], 2) if pyhanko_fixed["per_s"] else None
            ),
        },
        "tampered": sanity,
        "targets": {
            "per_s": THROUGHPUT_TARGET,
            "per_s_measured": ours["per_s"],
            "per_s_met": ours["per_s"] >= THROUGHPUT_TARGET,
            "per_s_by_cpu": round(1000 / ours["cpu_ms"]["median"], 1) if ours["cpu_ms"]["median"] else None,
        },
        "verified": all(r["passed"] == r["docs"] for r in runs)
        and not any(s["passed"] for s in sanity.values()),
    }
    _common.write_json(args.json, result)
    print(_report(result))
    if args.keep:
        print(f"kept {base}")
    return 0 if result["verified"] else 1


def _report(result: dict[str, Any]) -> str:
    pyhanko_rate = result["runs"][0]["per_s"]
    rows = [
        [
            run["label"],
            run["ms"]["median"],
            run["ms"]["p90"],
            run["cpu_ms"]["median"],
            run["per_s"],
            f"{run['per_s'] / pyhanko_rate:.2f}×" if pyhanko_rate else "-",
            f"{run['passed']}/{run['docs']}",
        ]
        for run in result["runs"]
    ]
    header = ["verifier (1 process)", "median ms", "p90 ms", "cpu ms", "verif./s", "vs pyHanko", "passed"]
    rows[2][5] = f"{rows[2][5]} (ours ÷ this: {result['ratio']['ours_vs_pyhanko_with_library_fixes']:.2f}×)"
    lines = [_common.table(header, rows), ""]
    targets = result["targets"]
    met = "met" if targets["per_s_met"] else "NOT met"
    lines.append(
        f"target ≥ {targets['per_s']:.0f} verifications/s (ours, 1 process): "
        f"{targets['per_s_measured']:.1f}/s — {met} (by CPU time alone: {targets['per_s_by_cpu']}/s)"
    )
    for label, outcome in result["tampered"].items():
        verdict = "REJECTED" if not outcome["passed"] else "ACCEPTED (bench failure)"
        lines.append(f"one byte changed, {label}: {verdict} ({outcome['outcome']})")
    if not result["verified"]:
        lines.append("FAILED: a genuine document did not pass, or the changed copy was accepted")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
