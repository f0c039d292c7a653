"""The verifier keeps what it trusts per process, and reads it again as soon as anything changes."""

from __future__ import annotations

import datetime as dt

import pytest

from epolicy.common import clock
from epolicy.signing import crl, signers
from epolicy.signing.models import CertificateRevocationList, SigningCredential
from epolicy.signing.verify import load_trust, verify_pdf

from .conftest import SEAL_BOX

Role = SigningCredential.Role
pytestmark = pytest.mark.django_db


def test_unchanged_trust_is_used_again(pki):
    first = load_trust()
    assert load_trust() is first


def test_a_revocation_is_seen_by_the_next_verification(pki, policy_pdf):
    signed = signers.seal_document(policy_pdf, box=SEAL_BOX).pdf
    assert verify_pdf(signed).genuine
    before = load_trust()
    seal = SigningCredential.active_for(Role.SEAL)
    assert seal is not None
    crl.revoke_certificate(serial=seal.serial, revoked_at=clock.now() - dt.timedelta(days=1))
    after = load_trust()
    assert after is not before
    assert verify_pdf(signed).code == "revoked"


def test_rows_written_elsewhere_are_noticed(pki):
    """Another process's CRL (here written without Django signals) changes the trust read here."""
    before = load_trust()
    row = CertificateRevocationList.objects.order_by("-id").first()
    assert row is not None
    CertificateRevocationList.objects.bulk_create(
        [
            CertificateRevocationList(
                issuer=row.issuer,
                number=row.number + 1,
                this_update=row.this_update,
                next_update=row.next_update,
                der=bytes(row.der),
            )
        ]
    )
    assert load_trust() is not before


def test_a_new_root_is_trusted_at_once(pki):
    before = load_trust()
    from cryptography.hazmat.primitives import serialization

    from .test_tsa import _foreign_pki

    root, *_ = _foreign_pki()
    from epolicy.signing import pki as pki_mod

    pki_mod.trust_tsa_root(root.public_bytes(serialization.Encoding.PEM))
    after = load_trust()
    assert len(after.tsa_roots) == len(before.tsa_roots) + 1


def test_trust_is_read_again_after_an_hour_of_platform_time(pki):
    before = load_trust()
    with clock.frozen_clock(clock.now() + dt.timedelta(minutes=50)):
        assert load_trust() is before
    with clock.frozen_clock(clock.now() + dt.timedelta(minutes=70)):
        assert load_trust() is not before


def test_trust_is_read_again_when_a_crl_is_due_for_reissue(pki):
    due = min(c["tbs_cert_list"]["next_update"].native for c in load_trust().crls) - crl.CRL_REFRESH_BEFORE
    with clock.frozen_clock(due - dt.timedelta(minutes=10)):
        before = load_trust()
    with clock.frozen_clock(due - dt.timedelta(minutes=1)):
        assert load_trust() is before
    with clock.frozen_clock(due + dt.timedelta(minutes=1)):
        later = load_trust()
        # ... with the online CAs' CRLs reissued for that time (the offline root's runs for months).
        reissued = [c for c in later.crls if c["tbs_cert_list"]["this_update"].native > due]
        assert len(reissued) == len(later.crls) - 1
    assert later is not before


def test_a_clock_set_back_reads_trust_again(pki):
    before = load_trust()
    with clock.frozen_clock(clock.now() - dt.timedelta(days=30)):
        assert load_trust() is not before
