from __future__ import annotations

import datetime as dt
import io

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from django.core.management import call_command

from epolicy.common import clock
from epolicy.common.errors import ApplicationError
from epolicy.signing import pki as pki_mod
from epolicy.signing.models import SigningCredential

Role = SigningCredential.Role


def cert_of(role: str) -> x509.Certificate:
    cred = SigningCredential.active_for(role)
    assert cred is not None, role
    return x509.load_der_x509_certificate(bytes(cred.certificate))


def attr(cert: x509.Certificate, oid: x509.ObjectIdentifier) -> str:
    return str(cert.subject.get_attributes_for_oid(oid)[0].value)


def years(cert: x509.Certificate) -> float:
    return (cert.not_valid_after_utc - cert.not_valid_before_utc).days / 365


@pytest.mark.django_db
def test_pki_has_every_role_chained_to_the_root(pki):
    root, issuing, seal = cert_of(Role.ROOT_CA), cert_of(Role.ISSUING_CA), cert_of(Role.SEAL)
    customer, tsa = cert_of(Role.CUSTOMER_CA), cert_of(Role.TSA)
    root.verify_directly_issued_by(root)
    issuing.verify_directly_issued_by(root)
    seal.verify_directly_issued_by(issuing)
    customer.verify_directly_issued_by(root)
    tsa.verify_directly_issued_by(root)
    assert 19.9 < years(root) < 20.1
    assert 2.9 < years(seal) < 3.1
    for ca in (root, issuing, customer):
        assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


@pytest.mark.django_db
def test_seal_certificate_names_the_insurer(pki, settings):
    seal = cert_of(Role.SEAL)
    insurer = settings.INSURER
    assert attr(seal, NameOID.ORGANIZATION_NAME) == insurer["name"]
    assert attr(seal, NameOID.COMMON_NAME).endswith(" 电子保单签章")
    assert attr(seal, NameOID.SERIAL_NUMBER) == insurer["uscc"]
    assert attr(seal, NameOID.ORGANIZATION_IDENTIFIER) == f"NTRCN-{insurer['uscc']}"
    usage = seal.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical and usage.value.digital_signature and usage.value.content_commitment
    assert not usage.value.key_cert_sign
    assert not seal.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


@pytest.mark.django_db
def test_seal_common_name_uses_the_full_name_when_it_fits(db, settings):
    settings.INSURER = {**settings.INSURER, "name": "中国示例财产保险股份有限公司"}
    assert pki_mod._names(Role.SEAL).get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == (
        "中国示例财产保险股份有限公司 电子保单签章"
    )


@pytest.mark.django_db
def test_tsa_certificate_is_for_timestamping_only(pki):
    tsa = cert_of(Role.TSA)
    eku = tsa.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    assert eku.critical
    assert list(eku.value) == [ExtendedKeyUsageOID.TIME_STAMPING]


@pytest.mark.django_db
def test_private_keys_are_encrypted_with_the_passphrase(pki, settings):
    cred = SigningCredential.active_for(Role.SEAL)
    assert cred is not None
    pem = bytes(cred.private_key)
    assert pem.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    with pytest.raises(TypeError):
        serialization.load_pem_private_key(pem, password=None)
    with pytest.raises(ValueError):
        serialization.load_pem_private_key(pem, password=b"wrong")
    key = serialization.load_pem_private_key(pem, password=settings.SIGNING_KEY_PASSPHRASE.encode())
    assert key.public_key().public_numbers() == cert_of(Role.SEAL).public_key().public_numbers()  # type: ignore[union-attr]


@pytest.mark.django_db
def test_pki_init_is_idempotent(pki):
    before = set(SigningCredential.objects.values_list("fingerprint_sha256", flat=True))
    assert pki_mod.pki_init() == {}
    assert set(SigningCredential.objects.values_list("fingerprint_sha256", flat=True)) == before


@pytest.mark.django_db
def test_missing_credential_is_recreated_with_its_descendants(pki, root_key):
    old_root = cert_of(Role.ROOT_CA)
    SigningCredential.objects.filter(role=Role.ISSUING_CA).update(active=False)
    # The root signs the new issuing CA: without its offline key nothing is made.
    with pytest.raises(pki_mod.RootKeyRequired, match="--root-key"):
        pki_mod.pki_init()
    assert SigningCredential.active_for(Role.ISSUING_CA) is None
    created = pki_mod.pki_init(root_key=root_key)
    # The seal hangs under the issuing CA, so it is renewed with it; the root is kept.
    assert set(created) == {Role.ISSUING_CA, Role.SEAL}
    assert cert_of(Role.ROOT_CA) == old_root
    cert_of(Role.SEAL).verify_directly_issued_by(cert_of(Role.ISSUING_CA))


@pytest.mark.django_db
def test_force_makes_a_new_generation_and_keeps_old_roots_trusted(pki, root_key):
    old_root = cert_of(Role.ROOT_CA)
    with pytest.raises(pki_mod.RootKeyRequired):
        pki_mod.pki_init(force=True)  # a new root retires the old one, which only its key may do
    created = pki_mod.pki_init(force=True, root_key=root_key)
    assert len(created.root_exports) == 1
    assert set(created) == set(pki_mod.ROTATABLE_ROLES)
    assert cert_of(Role.ROOT_CA) != old_root
    assert SigningCredential.objects.filter(active=True).count() == len(pki_mod.ROTATABLE_ROLES)
    assert SigningCredential.objects.filter(active=False).count() == len(pki_mod.ROTATABLE_ROLES)
    roots = pki_mod.trust_roots()
    assert old_root in roots and cert_of(Role.ROOT_CA) in roots


@pytest.mark.django_db
def test_active_credential_is_the_newest_active_one(pki):
    newest = SigningCredential.objects.filter(role=Role.SEAL).get()
    older = SigningCredential.objects.create(
        role=Role.SEAL,
        label="older",
        certificate=b"",
        private_key=b"",
        subject="CN=older",
        serial="1",
        fingerprint_sha256="0" * 64,
        not_before=clock.now(),
        not_after=clock.now(),
        created_at=newest.created_at - dt.timedelta(days=1),
    )
    assert SigningCredential.active_for(Role.SEAL) == newest
    newest.active = False
    newest.save()
    assert SigningCredential.active_for(Role.SEAL) == older


@pytest.mark.django_db
def test_event_certificate_for_one_signing(pki):
    now = clock.now()
    cert, key = pki_mod.issue_event_certificate(name="张三", subject_serial="ab" * 16)
    assert attr(cert, NameOID.COMMON_NAME) == "张三"
    assert attr(cert, NameOID.SERIAL_NUMBER) == "ab" * 16
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    assert cert.public_key().public_numbers() == key.public_key().public_numbers()  # type: ignore[union-attr]
    cert.verify_directly_issued_by(cert_of(Role.CUSTOMER_CA))
    assert cert.not_valid_before_utc <= now <= cert.not_valid_after_utc
    assert cert.not_valid_after_utc - now <= dt.timedelta(days=1, seconds=1)
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.content_commitment and usage.digital_signature


@pytest.mark.django_db
def test_event_certificates_get_fresh_keys(pki):
    first, _ = pki_mod.issue_event_certificate(name="张三", subject_serial="ab" * 16)
    second, _ = pki_mod.issue_event_certificate(name="张三", subject_serial="ab" * 16)
    assert first.public_key() != second.public_key()
    assert first.serial_number != second.serial_number


@pytest.mark.django_db
@pytest.mark.parametrize(
    "serial", ["110105194912310025", "11010519491231002X", "110105491231002", "", "x" * 65, "散列"]
)
def test_event_certificate_refuses_raw_id_numbers_and_bad_serials(pki, serial):
    with pytest.raises(ValueError):
        pki_mod.issue_event_certificate(name="张三", subject_serial=serial)


@pytest.mark.django_db
def test_event_certificate_with_frozen_clock(pki):
    at = dt.datetime(2026, 3, 1, 9, 30, tzinfo=clock.SHANGHAI)
    with clock.frozen_clock(at):
        cert, _ = pki_mod.issue_event_certificate(name="李四", subject_serial="cd" * 16)
    assert cert.not_valid_before_utc <= at <= cert.not_valid_after_utc


@pytest.mark.django_db
def test_without_pki_signing_material_is_missing(db):
    with pytest.raises(ApplicationError) as err:
        pki_mod.load_credential(Role.SEAL)
    assert err.value.code == "pki_missing"
    with pytest.raises(ApplicationError):
        pki_mod.issue_event_certificate(name="张三", subject_serial="ab" * 16)
    assert pki_mod.trust_roots() == []


@pytest.mark.django_db
def test_loaded_credentials_are_cached_by_fingerprint(pki, django_assert_max_num_queries):
    first = pki_mod.load_credential(Role.SEAL)
    with django_assert_max_num_queries(1):
        again = pki_mod.load_credential(Role.SEAL)
    assert again is first


@pytest.mark.django_db
def test_pki_init_command_prints_what_it_created(db):
    # (the root key goes to settings.SIGNING_ROOT_KEY_DIR, a temporary directory: see conftest)
    out = io.StringIO()
    call_command("pki_init", stdout=out)
    text = out.getvalue()
    for role in pki_mod.ROTATABLE_ROLES:
        assert f"created {role}" in text
    out = io.StringIO()
    call_command("pki_init", stdout=out)
    assert "nothing created" in out.getvalue()


@pytest.mark.django_db
def test_admin_shows_certificates_read_only_and_never_keys(pki, admin_client):
    cred = SigningCredential.active_for(Role.SEAL)
    assert cred is not None
    listing = admin_client.get("/admin/signing/signingcredential/")
    assert listing.status_code == 200
    assert cred.label in listing.content.decode()
    detail = admin_client.get(f"/admin/signing/signingcredential/{cred.pk}/change/")
    assert detail.status_code == 200
    page = detail.content.decode()
    assert "BEGIN CERTIFICATE" in page
    assert "PRIVATE KEY" not in page
    assert bytes(cred.private_key).decode()[40:80] not in page
    assert admin_client.get("/admin/signing/signingcredential/add/").status_code == 403
    response = admin_client.post(f"/admin/signing/signingcredential/{cred.pk}/delete/", {"post": "yes"})
    assert response.status_code == 403
    assert SigningCredential.objects.filter(pk=cred.pk).exists()
