"""Timings of signing and verification, printed (run with -s); nothing is asserted about speed."""

from __future__ import annotations

import time

import pytest

from epolicy.signing import signers
from epolicy.signing.verify import verify_pdf

from .conftest import APPLICANT_BOX, SEAL_BOX, make_pdf

ROUNDS = 20


def per_call_ms(fn, rounds: int = ROUNDS) -> float:
    fn()  # warm: keys loaded, seal drawn
    start = time.perf_counter()
    for _ in range(rounds):
        fn()
    return (time.perf_counter() - start) / rounds * 1000


@pytest.mark.django_db
def test_print_timings(pki, signature_png, capsys):
    policy = make_pdf(kind="policy", pages=2)
    application = make_pdf(kind="application", pages=2)
    sealed = signers.seal_document(policy, box=SEAL_BOX).pdf
    signed = signers.sign_application(
        application,
        box=APPLICANT_BOX,
        signer_name="张三",
        subject_serial="9f" * 16,
        signature_png=signature_png,
    ).pdf
    timings = {
        "seal_document (2 pages)": per_call_ms(lambda: signers.seal_document(policy, box=SEAL_BOX)),
        "sign_application (2 pages)": per_call_ms(
            lambda: signers.sign_application(
                application,
                box=APPLICANT_BOX,
                signer_name="张三",
                subject_serial="9f" * 16,
                signature_png=signature_png,
            )
        ),
        "verify_pdf (sealed)": per_call_ms(lambda: verify_pdf(sealed)),
        "verify_pdf (applicant)": per_call_ms(lambda: verify_pdf(signed)),
    }
    with capsys.disabled():
        print()
        for name, ms in timings.items():
            print(f"  {name:<28} {ms:7.1f} ms")
    assert verify_pdf(sealed).genuine
