"""The root CA's key is kept offline: never in the database or an online key store, brought back by the
operator (--root-key FILE) only to sign a CA, revoke one, renew the root's CRL or replace the root."""

from __future__ import annotations

import datetime as dt
import io
import logging
import os
import re
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from django.core.management import CommandError, call_command

from epolicy.audit.models import AuditEvent
from epolicy.common import clock
from epolicy.signing import crl, keystore, lifecycle, signers
from epolicy.signing import pki as pki_mod
from epolicy.signing.models import CertificateRevocationList, RevokedCertificate, SigningCredential
from epolicy.signing.verify import verify_pdf

from .conftest import SEAL_BOX

Role = SigningCredential.Role
DAY = dt.timedelta(days=1)


def active(role: str) -> SigningCredential:
    cred = SigningCredential.active_for(role)
    assert cred is not None, role
    return cred


def cert(cred: SigningCredential) -> x509.Certificate:
    return x509.load_der_x509_certificate(bytes(cred.certificate))


def spki(key_or_cert) -> bytes:
    public = key_or_cert.public_key()
    return public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def latest_crl(cred: SigningCredential) -> CertificateRevocationList:
    row = cred.crls.order_by("-number").first()
    assert row is not None
    return row


def printed_export(text: str) -> tuple[Path, str]:
    """The key file and passphrase a command printed (the only place the passphrase ever appears)."""
    path = re.search(r"key file:\s+(\S+)", text)
    passphrase = re.search(r"passphrase:\s+(\S+)", text)
    assert path is not None and passphrase is not None, text
    return Path(path.group(1)), passphrase.group(1)


def online_keys(settings) -> list[tuple[str, bytes]]:
    """Every private key the platform can open on its own (database rows, key files, its passphrase)."""
    passphrase = settings.SIGNING_KEY_PASSPHRASE.encode()
    found = []
    for cred in SigningCredential.objects.all():
        if bytes(cred.private_key):
            found.append(
                (
                    f"row {cred.pk}",
                    spki(serialization.load_pem_private_key(bytes(cred.private_key), passphrase)),
                )
            )
    key_dir = Path(settings.SIGNING_KEY_DIR)
    if key_dir.exists():
        for path in key_dir.iterdir():
            found.append((str(path), spki(serialization.load_pem_private_key(path.read_bytes(), passphrase))))
    return found


# ---------------------------------------------------------------------------------------------------------
# pki_init


@pytest.mark.django_db
@pytest.mark.parametrize("store", ["database", "files"])
def test_after_pki_init_no_root_private_key_is_online(db, settings, tmp_path, store):
    settings.SIGNING_KEYSTORE = store
    settings.SIGNING_KEY_DIR = str(tmp_path / "keys")
    changes = pki_mod.pki_init()
    root = active(Role.ROOT_CA)
    assert root.key_store == "offline" and bytes(root.private_key) == b""
    (export,) = changes.root_exports
    assert root.key_ref == export.path.name
    # Every key the platform could open itself: the other four, never the root's.
    keys = online_keys(settings)
    assert len(keys) == 4
    assert spki(cert(root)) not in {k for _, k in keys}
    with pytest.raises(pki_mod.RootKeyRequired, match="--root-key"):
        keystore.load_private_key(root)
    with pytest.raises(pki_mod.RootKeyRequired):
        pki_mod._load_key(root)
    # The root's CRL was signed before the key left: valid for a year.
    root_crl = x509.load_der_x509_crl(bytes(latest_crl(root).der))
    assert root_crl.is_signature_valid(cert(root).public_key())  # type: ignore[arg-type]
    assert root_crl.next_update_utc - root_crl.last_update_utc == dt.timedelta(days=365)


@pytest.mark.django_db
def test_the_exported_root_key_opens_only_with_the_passphrase_printed_once(db, settings):
    out = io.StringIO()
    call_command("pki_init", stdout=out)
    path, passphrase = printed_export(out.getvalue())
    assert path.parent == Path(settings.SIGNING_ROOT_KEY_DIR)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(path.parent).st_mode) == 0o700
    assert "offline media" in (path.parent / "README.txt").read_text()
    pem = path.read_bytes()
    assert pem.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    key = serialization.load_pem_private_key(pem, passphrase.encode())
    assert spki(key) == spki(cert(active(Role.ROOT_CA)))
    with pytest.raises(ValueError):
        serialization.load_pem_private_key(pem, settings.SIGNING_KEY_PASSPHRASE.encode())
    with pytest.raises(TypeError):
        serialization.load_pem_private_key(pem, None)
    with pytest.raises(pki_mod.RootKeyError, match="wrong passphrase"):
        pki_mod.load_root_key(path, settings.SIGNING_KEY_PASSPHRASE)
    assert pki_mod.load_root_key(path, passphrase).fingerprint == active(Role.ROOT_CA).fingerprint_sha256
    # The platform keeps the passphrase nowhere.
    stored = [str(v) for row in SigningCredential.objects.values() for v in row.values()]
    stored += [str(row) for row in AuditEvent.objects.values()]
    assert not any(passphrase in value for value in stored)
    # Run again (scripts/run.sh does, at every start): nothing made, nothing printed, no key asked for.
    again = io.StringIO()
    call_command("pki_init", stdout=again)
    assert "nothing created" in again.getvalue() and "passphrase" not in again.getvalue()
    assert sorted(p.name for p in path.parent.iterdir()) == sorted([path.name, "README.txt"])


@pytest.mark.django_db
def test_pki_init_on_a_complete_pki_never_asks_for_the_root_key(pki, monkeypatch):
    def no_prompt(*args, **kwargs):
        raise AssertionError("pki_init asked for the root key's passphrase")

    monkeypatch.setattr("getpass.getpass", no_prompt)
    before = set(SigningCredential.objects.values_list("fingerprint_sha256", flat=True))
    out = io.StringIO()
    call_command("pki_init", stdout=out)
    assert "nothing created" in out.getvalue()
    assert set(SigningCredential.objects.values_list("fingerprint_sha256", flat=True)) == before


@pytest.mark.django_db
def test_a_root_key_file_of_another_pki_is_refused(pki, tmp_path):
    other = pki_mod.offline.export_root_key(*_self_signed_root(), directory=tmp_path / "elsewhere")
    with pytest.raises(pki_mod.RootKeyError, match="not the key of any root CA"):
        pki_mod.load_root_key(other.path, other.passphrase)


def _self_signed_root():
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = clock.now()
    return key, pki_mod._build_certificate(
        subject=pki_mod._names(Role.ROOT_CA),
        public_key=key.public_key(),
        issuer=None,
        issuer_key=key,
        not_before=now,
        not_after=now + 365 * DAY,
        ca=True,
    )


# ---------------------------------------------------------------------------------------------------------
# Rotation


@pytest.mark.django_db
@pytest.mark.parametrize("role", [Role.ISSUING_CA, Role.CUSTOMER_CA, Role.TSA, Role.ROOT_CA])
def test_rotating_what_the_root_signs_fails_clearly_without_its_key(pki, role, monkeypatch):
    monkeypatch.delenv(pki_mod.offline.ROOT_KEY_PASSPHRASE_ENV, raising=False)
    before = SigningCredential.objects.count()
    root = active(Role.ROOT_CA)
    with pytest.raises(CommandError) as err:
        call_command("pki_rotate", role, stdout=io.StringIO())
    message = str(err.value)
    assert "kept offline" in message and "--root-key" in message and root.key_ref in message
    assert SigningCredential.objects.count() == before
    assert active(role).pk in {c.pk for c in pki}


@pytest.mark.django_db
def test_rotating_the_seal_needs_no_root_key(pki):
    assert set(pki_mod.pki_rotate(Role.SEAL)) == {Role.SEAL}


@pytest.mark.django_db
def test_the_passphrase_must_be_right(pki, root_key_file, monkeypatch):
    monkeypatch.setenv(pki_mod.offline.ROOT_KEY_PASSPHRASE_ENV, "not-the-passphrase")
    with pytest.raises(CommandError, match="wrong passphrase"):
        call_command("pki_rotate", Role.ISSUING_CA, "--root-key", root_key_file, stdout=io.StringIO())
    monkeypatch.delenv(pki_mod.offline.ROOT_KEY_PASSPHRASE_ENV)
    monkeypatch.setattr("sys.stdin", io.StringIO(""))  # no terminal to ask at
    with pytest.raises(CommandError, match=pki_mod.offline.ROOT_KEY_PASSPHRASE_ENV):
        call_command("pki_rotate", Role.ISSUING_CA, "--root-key", root_key_file, stdout=io.StringIO())


@pytest.mark.django_db
def test_rotating_the_issuing_ca_with_the_root_key_and_documents_verify(pki, root_key_file, policy_pdf):
    old_ca = active(Role.ISSUING_CA)
    before = signers.seal_document(policy_pdf, box=SEAL_BOX)
    out = io.StringIO()
    call_command(
        "pki_rotate", Role.ISSUING_CA, "--root-key", root_key_file, "--actor", "staff:alice", stdout=out
    )
    assert "rotated issuing_ca" in out.getvalue() and "rotated seal" in out.getvalue()
    new_ca = active(Role.ISSUING_CA)
    assert new_ca.pk != old_ca.pk
    cert(new_ca).verify_directly_issued_by(cert(active(Role.ROOT_CA)))
    assert active(Role.ROOT_CA).key_store == "offline"  # the key was used, not kept
    after = signers.seal_document(policy_pdf, box=SEAL_BOX)
    for result in (before, after):
        assert verify_pdf(result.pdf).code == "genuine"
    assert AuditEvent.objects.filter(action="pki.credential_rotated", actor="staff:alice").count() == 2


@pytest.mark.django_db
def test_rotating_the_root_retires_the_old_one_with_a_final_crl(pki, root_key_file, policy_pdf):
    old_root = active(Role.ROOT_CA)
    before = signers.seal_document(policy_pdf, box=SEAL_BOX)
    out = io.StringIO()
    call_command("pki_rotate", Role.ROOT_CA, "--root-key", root_key_file, stdout=out)
    path, passphrase = printed_export(out.getvalue())
    new_root = active(Role.ROOT_CA)
    assert new_root.key_store == "offline" and new_root.key_ref == path.name
    assert pki_mod.load_root_key(path, passphrase).fingerprint == new_root.fingerprint_sha256
    # The old root signed its last CRL: it runs until the old root expires, never to be renewed.
    old_root.refresh_from_db()
    assert not old_root.active
    final = latest_crl(old_root)
    assert final.next_update == old_root.not_after
    assert [w.ca.pk for w in pki_mod.offline.offline_crl_warnings(now=old_root.not_after - 30 * DAY)] == [
        new_root.pk
    ]
    after = signers.seal_document(policy_pdf, box=SEAL_BOX)
    assert verify_pdf(before.pdf).code == "genuine"
    assert verify_pdf(after.pdf).code == "genuine"


# ---------------------------------------------------------------------------------------------------------
# The root's CRL


@pytest.mark.django_db
def test_crl_refresh_without_the_root_key_refreshes_the_online_cas_and_warns_about_the_root(pki, caplog):
    root = active(Role.ROOT_CA)
    root_crl = latest_crl(root)
    out, err = io.StringIO(), io.StringIO()
    call_command("crl_refresh", stdout=out, stderr=err)
    assert "WARNING" not in err.getvalue()  # a year left: nothing to say
    assert lifecycle.expiry_warnings() == []

    near = root_crl.next_update - 30 * DAY
    with clock.frozen_clock(near):
        out, err = io.StringIO(), io.StringIO()
        call_command("crl_refresh", stdout=out, stderr=err)
        for role in (Role.ISSUING_CA, Role.CUSTOMER_CA):
            assert latest_crl(active(role)).this_update == near
        assert latest_crl(root).pk == root_crl.pk  # left as the operator issued it
        assert f"root CA {root.serial}" in err.getvalue() and "--root-key" in err.getvalue()
        with caplog.at_level(logging.WARNING, logger="epolicy.signing.crl"):
            crl.refresh_crls()  # the scheduled job
        assert any("crl_refresh --root-key" in r.getMessage() for r in caplog.records)
        (warning,) = lifecycle.expiry_warnings()
        assert warning.kind == "crl" and warning.role == Role.ROOT_CA and warning.days_left in (29, 30)
        assert root.key_ref in warning.message_zh and "crl_refresh --root-key" in warning.message_zh
        status = io.StringIO()
        call_command("pki_status", stdout=status)
        assert f"WARNING root_ca CRL {root.serial}" in status.getvalue()
        assert f"CRL of offline root_ca {root.serial}" in status.getvalue()


@pytest.mark.django_db
def test_renewing_the_root_crl_with_its_key(pki, root_key_file):
    root = active(Role.ROOT_CA)
    first = latest_crl(root)
    near = first.next_update - 10 * DAY
    with clock.frozen_clock(near):
        out = io.StringIO()
        call_command("crl_refresh", "--root-key", root_key_file, "--actor", "staff:bob", stdout=out)
        assert "root CRL #2" in out.getvalue()
        renewed = latest_crl(root)
        assert renewed.number == first.number + 1
        assert renewed.next_update == near + dt.timedelta(days=365)
        parsed = x509.load_der_x509_crl(bytes(renewed.der))
        assert parsed.is_signature_valid(cert(root).public_key())  # type: ignore[arg-type]
        assert lifecycle.expiry_warnings() == []
    assert AuditEvent.objects.filter(action="pki.offline_crl_issued", actor="staff:bob").exists()
    assert active(Role.ROOT_CA).key_store == "offline"


@pytest.mark.django_db
def test_a_lapsed_root_crl_leaves_old_documents_valid_and_new_ones_unknown_until_renewed(
    pki, policy_pdf, root_key
):
    before = signers.seal_document(policy_pdf, box=SEAL_BOX).pdf
    lapsed = latest_crl(active(Role.ROOT_CA)).next_update + 30 * DAY
    with clock.frozen_clock(lapsed):
        after = signers.seal_document(policy_pdf, box=SEAL_BOX).pdf
        assert verify_pdf(before).code == "genuine"  # the root's CRL was current when it was signed
        assert verify_pdf(after).code == "revocation_unknown"
        assert "已于" in lifecycle.expiry_warnings()[0].message_zh
        pki_mod.offline.renew_offline_crl(root_key)
        assert verify_pdf(after).code == "genuine"


# ---------------------------------------------------------------------------------------------------------
# Revocation


@pytest.mark.django_db
def test_revoking_a_certificate_the_root_issued_needs_its_key(pki, root_key_file, policy_pdf):
    sealed = signers.seal_document(policy_pdf, box=SEAL_BOX).pdf
    issuing = active(Role.ISSUING_CA)
    root = active(Role.ROOT_CA)
    with pytest.raises(CommandError, match="--root-key"):
        call_command(
            "pki_revoke", "--serial", issuing.serial, "--reason", "ca_compromise", stdout=io.StringIO()
        )
    assert not RevokedCertificate.objects.exists()
    assert active(Role.ISSUING_CA).pk == issuing.pk
    with pytest.raises(pki_mod.RootKeyRequired):
        crl.revoke_certificate(serial=issuing.serial)

    call_command(
        "pki_revoke",
        "--serial",
        issuing.serial,
        "--reason",
        "ca_compromise",
        "--since",
        clock.local(clock.now() - dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S"),
        "--root-key",
        root_key_file,
        stdout=io.StringIO(),
    )
    listed = x509.load_der_x509_crl(bytes(latest_crl(root).der))
    assert listed.get_revoked_certificate_by_serial_number(int(issuing.serial, 16)) is not None
    assert listed.is_signature_valid(cert(root).public_key())  # type: ignore[arg-type]
    assert verify_pdf(sealed).code == "revoked"


@pytest.mark.django_db
def test_revoking_what_an_online_ca_issued_needs_no_root_key(pki):
    seal = active(Role.SEAL)
    crl.revoke_certificate(serial=seal.serial, reason="key_compromise")
    assert RevokedCertificate.objects.get().issuer.role == Role.ISSUING_CA


# ---------------------------------------------------------------------------------------------------------
# A PKI made by an older version, its root key online


@pytest.mark.django_db
@pytest.mark.parametrize("store", ["database", "files"])
def test_an_online_root_key_of_an_older_version_is_taken_offline(
    pki, root_key, settings, tmp_path, store, django_capture_on_commit_callbacks
):
    settings.SIGNING_KEY_DIR = str(tmp_path / "keys")
    root = active(Role.ROOT_CA)
    pem = keystore.encrypt_pem(root_key.key)
    if store == "files":
        keystore._write_key_file("root_ca-legacy.pem", pem)
        SigningCredential.objects.filter(pk=root.pk).update(key_store="files", key_ref="root_ca-legacy.pem")
    else:
        SigningCredential.objects.filter(pk=root.pk).update(key_store="database", key_ref="", private_key=pem)
    first = latest_crl(root)
    # An older version renewed the root's CRL online, every few days.
    CertificateRevocationList.objects.filter(pk=first.pk).update(next_update=clock.now() + crl.CRL_VALIDITY)

    out = io.StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("pki_init", stdout=out)
    path, passphrase = printed_export(out.getvalue())
    root.refresh_from_db()
    assert root.key_store == "offline" and bytes(root.private_key) == b"" and root.key_ref == path.name
    assert online_keys(settings) and spki(cert(root)) not in {k for _, k in online_keys(settings)}
    assert not (tmp_path / "keys" / "root_ca-legacy.pem").exists()
    assert pki_mod.load_root_key(path, passphrase).fingerprint == root.fingerprint_sha256
    # While the key was at hand, the root signed a CRL for the coming year.
    assert latest_crl(root).number == first.number + 1
    again = io.StringIO()
    call_command("pki_init", stdout=again)
    assert "nothing created" in again.getvalue()
