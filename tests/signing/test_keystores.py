"""Key stores: encrypted key files, and the seal key inside a PKCS#11 token (SoftHSM2)."""

from __future__ import annotations

import os
import stat

import pytest
from pyhanko.sign.pkcs11 import PKCS11Signer

from epolicy.signing import keystore, lta, signers
from epolicy.signing import pki as pki_mod
from epolicy.signing.models import SigningCredential
from epolicy.signing.verify import verify_pdf

from .conftest import SEAL_BOX, have, pdfsig, run

Role = SigningCredential.Role


@pytest.fixture(autouse=True)
def _fresh_caches():
    pki_mod.clear_cache()
    yield
    pki_mod.clear_cache()


# ---------------------------------------------------------------------------------------------------------
# files


@pytest.mark.django_db
def test_files_key_store_writes_encrypted_key_files_and_signs(pki, settings, tmp_path, policy_pdf, root_key):
    settings.SIGNING_KEYSTORE = "files"
    settings.SIGNING_KEY_DIR = str(tmp_path / "keys")
    created = pki_mod.pki_init(force=True, root_key=root_key)
    assert set(created) == set(pki_mod.ROTATABLE_ROLES)
    root = SigningCredential.active_for(Role.ROOT_CA)
    assert root is not None and root.key_store == "offline"  # the root's key is in no online store
    assert not (tmp_path / "keys" / root.key_ref).exists()
    for role in set(pki_mod.ROTATABLE_ROLES) - {Role.ROOT_CA}:
        cred = SigningCredential.active_for(role)
        assert cred is not None
        assert cred.key_store == "files"
        assert bytes(cred.private_key) == b""  # the database copy holds no key
        path = tmp_path / "keys" / cred.key_ref
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        pem = path.read_bytes()
        assert pem.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    assert stat.S_IMODE(os.stat(tmp_path / "keys").st_mode) == 0o700

    result = signers.seal_document(policy_pdf, box=SEAL_BOX)
    assert result.certificate_serial == SigningCredential.active_for(Role.SEAL).serial  # type: ignore[union-attr]
    assert verify_pdf(result.pdf).code == "genuine"
    assert verify_pdf(lta.lta_extend(result.pdf)).code == "genuine"


@pytest.mark.django_db
def test_a_missing_key_file_is_a_clear_error(pki, settings, tmp_path, policy_pdf):
    settings.SIGNING_KEYSTORE = "files"
    settings.SIGNING_KEY_DIR = str(tmp_path / "keys")
    pki_mod.pki_rotate("seal")
    cred = SigningCredential.active_for(Role.SEAL)
    assert cred is not None
    (tmp_path / "keys" / cred.key_ref).unlink()
    pki_mod.clear_cache()
    with pytest.raises(keystore.KeyUnavailable, match="cannot be read"):
        signers.seal_document(policy_pdf, box=SEAL_BOX)


@pytest.mark.django_db
def test_an_unknown_key_store_is_refused(pki, settings):
    from django.core.exceptions import ImproperlyConfigured

    settings.SIGNING_KEYSTORE = "floppy"
    with pytest.raises(ImproperlyConfigured):
        pki_mod.pki_rotate("seal")


# ---------------------------------------------------------------------------------------------------------
# PKCS#11 (SoftHSM2)


@pytest.fixture
def token(settings, softhsm_token):
    settings.SIGNING_KEYSTORE = "pkcs11"
    settings.PKCS11 = dict(softhsm_token)
    return softhsm_token


def _token_key(label: str):
    from pkcs11 import Attribute, ObjectClass

    session = keystore.pkcs11_session()
    (key,) = list(session.get_objects({Attribute.CLASS: ObjectClass.PRIVATE_KEY, Attribute.LABEL: label}))
    return key


@pytest.mark.django_db
def test_seal_key_generated_in_softhsm_signs_documents_that_verify(pki, token, policy_pdf, write, nss_db):
    from pkcs11 import Attribute

    old_serial = SigningCredential.active_for(Role.SEAL).serial  # type: ignore[union-attr]
    pki_mod.pki_rotate("seal")
    cred = SigningCredential.active_for(Role.SEAL)
    assert cred is not None and cred.serial != old_serial
    assert cred.key_store == "pkcs11"
    assert bytes(cred.private_key) == b""
    # The key was made inside the token and cannot leave it.
    key = _token_key(cred.key_ref)
    assert key[Attribute.SENSITIVE] is True
    assert key[Attribute.EXTRACTABLE] is False
    # The CAs and the TSA keep their keys where they were.
    assert SigningCredential.active_for(Role.TSA).key_store == "database"  # type: ignore[union-attr]

    assert isinstance(keystore.signer_for(Role.SEAL), PKCS11Signer)
    result = signers.seal_document(policy_pdf, box=SEAL_BOX)
    assert result.certificate_serial == cred.serial
    report = verify_pdf(result.pdf)
    assert report.code == "genuine", report
    (sig,) = report.signatures
    assert sig.signer_role == "insurer" and sig.certificate_serial == cred.serial
    # A second signature reuses the session and the key handle.
    assert verify_pdf(signers.seal_document(policy_pdf, box=SEAL_BOX).pdf).genuine
    assert verify_pdf(lta.lta_extend(result.pdf)).code == "genuine"

    if not have("pdfsig"):
        pytest.fail("pdfsig (poppler-utils) is missing: run scripts/setup.sh")
    path = write("pkcs11-sealed.pdf", result.pdf)
    out = run(pdfsig(nss_db, path))
    print(out.stdout)
    assert out.returncode == 0, out.stderr
    assert "Signature is Valid." in out.stdout
    assert "Total document signed" in out.stdout
    if nss_db is not None:
        assert "Certificate is Trusted." in out.stdout


@pytest.mark.django_db
def test_an_existing_seal_key_can_be_imported_into_the_token(pki, token, policy_pdf):
    from pkcs11 import Attribute

    cred = SigningCredential.active_for(Role.SEAL)
    assert cred is not None and cred.key_store == "database"
    before = signers.seal_document(policy_pdf, box=SEAL_BOX).pdf
    keystore.import_to_pkcs11(cred)
    cred.refresh_from_db()
    assert cred.key_store == "pkcs11" and bytes(cred.private_key) == b""
    assert _token_key(cred.key_ref)[Attribute.EXTRACTABLE] is False
    pki_mod.clear_cache()
    assert isinstance(keystore.signer_for(Role.SEAL), PKCS11Signer)
    after = signers.seal_document(policy_pdf, box=SEAL_BOX)
    assert after.certificate_serial == cred.serial
    assert verify_pdf(after.pdf).code == "genuine"
    assert verify_pdf(before).code == "genuine"


@pytest.mark.django_db
def test_a_wrong_token_label_is_a_clear_error(pki, token, settings):
    settings.PKCS11 = {**token, "token_label": "no-such-token"}
    with pytest.raises(keystore.KeyUnavailable, match="no-such-token"):
        pki_mod.pki_rotate("seal")
