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


def _seal() -> asn1_x509.Certificate:
    der = pki_mod.load_credential("seal").certificate.public_bytes(serialization.Encoding.DER)
    return asn1_x509.Certificate.load(der)


@pytest.mark.django_db
def test_admitted_bytes_give_the_object_parsed_first(pki, monkeypatch):
    monkeypatch.setattr(asn1certs, "_parsed", {})
    first = asn1certs.admit(_root())
    assert asn1certs.admit(_root()) is first
    assert asn1certs.canonical(_root()) is first  # a document's copy of it: the object kept
    assert asn1certs.canonical("not a certificate") == "not a certificate"
    assert asn1certs.admit("not a certificate") == "not a certificate"


@pytest.mark.django_db
def test_a_documents_certificates_are_neither_parsed_nor_kept(pki, monkeypatch):
    """Only the platform's own are admitted: a file's certificate (a crafted one with thousands of
    extensions, say) is handed back untouched, parsed only as far as the checks read it."""
    monkeypatch.setattr(asn1certs, "_parsed", {})
    asn1certs.admit(_root())
    from_a_document = _seal()
    assert asn1certs.canonical(from_a_document) is from_a_document
    assert from_a_document.children is None  # still unparsed
    assert asn1certs.kept() == 1


@pytest.mark.django_db
def test_trust_loading_admits_our_own_certificates(pki, monkeypatch):
    from epolicy.signing.verify import trust

    monkeypatch.setattr(asn1certs, "_parsed", {})
    trust.clear_trust_cache()
    trust.load_trust()
    seal = _seal()
    assert asn1certs.canonical(seal) is not seal  # the seal's certificate, parsed once for every check
    assert asn1certs.kept() >= len(trust.own_certificate_ders())


@pytest.mark.django_db
def test_an_admitted_certificate_is_only_read_after(pki, monkeypatch):
    """asn1crypto fills a certificate's critical-extension set on first read (made empty, then filled):
    done before the object is shared, so a thread reading it never sees it half filled."""
    monkeypatch.setattr(asn1certs, "_parsed", {})
    cert = asn1certs.admit(_seal())
    assert cert._processed_extensions and cert._native is not None


def test_a_certificate_that_does_not_parse_is_never_kept():
    broken = asn1_x509.Certificate.load(bytes.fromhex("3006020101020102"))  # a SEQUENCE of two INTEGERs
    assert asn1certs.admit(broken) is broken
    assert (asn1_x509.Certificate, broken.dump()) not in asn1certs._parsed


@pytest.mark.django_db
def test_the_table_is_bounded(pki, monkeypatch):
    monkeypatch.setattr(asn1certs, "MAX_ENTRIES", 1)
    monkeypatch.setattr(asn1certs, "_parsed", {})
    asn1certs.admit(_root())
    asn1certs.admit(_seal())
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

    from epolicy.signing.verify import trust

    asn1certs.install()
    trust.clear_trust_cache()  # read again: our certificates admitted
    kept = verdicts()
    assert asn1certs.kept() > 0
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
    monkeypatch.setattr(asn1certs, "_parsed", {})
    small = asn1certs.admit(asn1_crl.CertificateList.load(der))
    assert asn1certs.canonical(asn1_crl.CertificateList.load(der)) is small
    assert all(entry._processed_extensions for entry in small["tbs_cert_list"]["revoked_certificates"])
    monkeypatch.setattr(asn1certs, "MAX_BYTES", len(der) - 1)
    monkeypatch.setattr(asn1certs, "_parsed", {})
    large = asn1_crl.CertificateList.load(der)
    assert asn1certs.admit(large) is large
    assert asn1certs.kept() == 0
