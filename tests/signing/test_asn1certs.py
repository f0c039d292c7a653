"""Certificates kept parsed per process by epolicy.signing.asn1certs: the same verdicts as parsing afresh."""

from __future__ import annotations

import subprocess
import sys

import pytest
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives import serialization

from epolicy.common import clock
from epolicy.signing import asn1certs, lta
from epolicy.signing import pki as pki_mod
from epolicy.signing.signers import seal_document
from epolicy.signing.verify import verify_pdf

from .conftest import SEAL_BOX, swap_page_content


def _root() -> asn1_x509.Certificate:
    der = pki_mod.trust_roots()[0].public_bytes(serialization.Encoding.DER)
    return asn1_x509.Certificate.load(der)


@pytest.mark.django_db
def test_installed_once_pyhanko_is_imported(pki):
    import pyhanko.sign.general  # noqa: F401 - the signing app's hook installs it on this import

    assert asn1certs.installed()


def test_django_start_alone_does_not_import_pyhanko():
    # The hook waits for pyHanko's CMS layer: commands that read no PDF never load it.
    code = "import django, sys; django.setup(); print('pyhanko.sign.general' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "False"


@pytest.mark.django_db
def test_the_same_bytes_give_the_object_parsed_first(pki):
    first = canonical = asn1certs.canonical(_root())
    again = asn1certs.canonical(_root())
    assert again is canonical is first
    other = asn1_x509.Certificate.load(
        pki_mod.load_credential("seal").certificate.public_bytes(serialization.Encoding.DER)
    )
    assert asn1certs.canonical(other) is not first
    assert asn1certs.canonical("not a certificate") == "not a certificate"


def test_a_certificate_that_does_not_parse_is_never_kept():
    broken = asn1_x509.Certificate.load(bytes.fromhex("3006020101020102"))  # a SEQUENCE of two INTEGERs
    assert asn1certs.canonical(broken) is broken
    assert (asn1_x509.Certificate, broken.dump()) not in asn1certs._parsed


@pytest.mark.django_db
def test_the_table_is_bounded(pki, monkeypatch):
    monkeypatch.setattr(asn1certs, "MAX_ENTRIES", 1)
    monkeypatch.setattr(asn1certs, "_parsed", {})
    asn1certs.canonical(_root())
    asn1certs.canonical(
        asn1_x509.Certificate.load(
            pki_mod.load_credential("seal").certificate.public_bytes(serialization.Encoding.DER)
        )
    )
    assert len(asn1certs._parsed) <= 1


@pytest.mark.django_db
def test_every_verdict_is_the_one_of_certificates_parsed_afresh(pki, policy_pdf):
    sealed = seal_document(policy_pdf, box=SEAL_BOX).pdf
    extended = lta.lta_extend(sealed)  # DSS certificates and a document timestamp too
    documents = [sealed, extended, swap_page_content(sealed), extended[:-200] + b"%" * 200]

    at = clock.now()

    def verdicts() -> list[object]:
        # Twice each: the second verification reads the certificates kept by the first.
        return [verify_pdf(d, at=at) for d in documents for _ in range(2)]

    asn1certs.install()
    kept = verdicts()
    asn1certs.uninstall()
    try:
        fresh = verdicts()
    finally:
        asn1certs.install()
    assert kept == fresh
    assert [v.genuine for v in kept[::2]] == [True, True, False, False]


def test_a_crl_over_the_bound_is_never_kept(monkeypatch):
    """Parsing a large CRL in full would cost every worker that meets it: it is read lazily instead."""
    import datetime as dt

    from asn1crypto import crl as asn1_crl
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "CA")]))
        .last_update(now)
        .next_update(now + dt.timedelta(days=1))
    )
    for serial in range(1, 40):
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(now).build()
        )
    der = builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)
    small = asn1_crl.CertificateList.load(der)
    assert asn1certs.canonical(asn1_crl.CertificateList.load(der)) is asn1certs.canonical(small)
    monkeypatch.setattr(asn1certs, "MAX_CRL_BYTES", len(der) - 1)
    monkeypatch.setattr(asn1certs, "_parsed", {})
    large = asn1_crl.CertificateList.load(der)
    assert asn1certs.canonical(large) is large
    assert asn1certs.kept() == 0
