"""Certificates from a licensed CA: request, import, sign, verify, rotate; refusals; CRL/OCSP; event CA.

The licensed CA is a second CA made in each test (`pki.testca.TestCa`: a root and an intermediate
built with cryptography's x509 builders), publishing its CRLs and OCSP over a loopback HTTP server.
"""

from __future__ import annotations

import datetime as dt
import io

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from django.core.management import CommandError, call_command
from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper

from epolicy.common.errors import ApplicationError
from epolicy.signing import pki as p
from epolicy.signing import signers
from epolicy.signing import tsa as tsa_module
from epolicy.signing.event_ca import EventCaError
from epolicy.signing.models import CertificateRevocationList, PendingKey, SigningCredential
from epolicy.signing.pki import licensed
from epolicy.signing.pki.testca import TestCa, serve_directory
from epolicy.signing.verify import verify_pdf

from .conftest import APPLICANT_BOX, SEAL_BOX, make_pdf

Role = SigningCredential.Role


@pytest.fixture(autouse=True)
def _fresh_caches():
    p.clear_cache()
    yield
    p.clear_cache()


@pytest.fixture
def test_ca(tmp_path):
    directory = tmp_path / "licensed-ca"
    directory.mkdir()
    server = serve_directory(directory)  # listening first: the certificates name its address
    ca = TestCa.create(directory, base_url=f"http://127.0.0.1:{server.server_address[1]}")
    yield ca
    server.shutdown()
    server.server_close()


def _licensed(role: str, ca: TestCa, **sign) -> licensed.ImportResult:
    pending = licensed.create_request(role, key_store=sign.pop("key_store", "database"))
    return licensed.import_certificate(role, ca.sign(pending.csr_pem, **sign))


def _state() -> tuple:
    """What an import may change: credentials, CRLs, pending keys (and their status)."""
    return (
        sorted(SigningCredential.objects.values_list("fingerprint_sha256", "active", "role")),
        CertificateRevocationList.objects.count(),
        sorted(PendingKey.objects.values_list("pk", "status")),
    )


# ---------------------------------------------------------------------------------------------------------
# The request


@pytest.mark.django_db
def test_the_request_names_the_insurer_and_asks_for_the_roles_key_usage(pki, settings):
    seal = x509.load_pem_x509_csr(licensed.create_request("seal", key_store="database").csr_pem.encode())
    assert seal.is_signature_valid
    uscc = settings.INSURER["uscc"]
    assert seal.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)[0].value == uscc
    assert seal.subject.get_attributes_for_oid(NameOID.ORGANIZATION_IDENTIFIER)[0].value == f"NTRCN-{uscc}"
    assert seal.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == settings.INSURER["name"]
    usage = seal.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and usage.content_commitment and not usage.key_cert_sign

    tsa = x509.load_pem_x509_csr(licensed.create_request("tsa", key_store="database").csr_pem.encode())
    eku = tsa.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    assert eku.critical and list(eku.value) == [ExtendedKeyUsageOID.TIME_STAMPING]

    ca = x509.load_pem_x509_csr(licensed.create_request("customer_ca", key_store="database").csr_pem.encode())
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert ca.extensions.get_extension_for_class(x509.KeyUsage).value.crl_sign
    assert PendingKey.objects.filter(status="pending").count() == 3


@pytest.mark.django_db
def test_sm2_and_in_memory_roles_in_a_token_are_refused_clearly(pki):
    with pytest.raises(licensed.LicensedCaError, match="SM2 signing track") as exc:
        licensed.create_request("seal", algorithm="sm2", key_store="database")
    assert exc.value.code == "licensed_algorithm_unsupported"
    with pytest.raises(licensed.LicensedCaError) as exc:
        licensed.create_request("tsa", key_store="pkcs11")
    assert exc.value.code == "licensed_key_store_unsupported"
    assert not PendingKey.objects.exists()


# ---------------------------------------------------------------------------------------------------------
# The full cycle


@pytest.mark.django_db
def test_csr_import_seal_verify_rotate_and_old_documents_still_verify(pki, test_ca, policy_pdf):
    platform_seal = SigningCredential.active_for(Role.SEAL)
    before = signers.seal_document(policy_pdf, box=SEAL_BOX).pdf

    first = _licensed("seal", test_ca)
    cred = first.credential
    assert cred.active and cred.external_issuer == test_ca.intermediate.subject.rfc4514_string()
    assert first.previous is not None and first.previous.pk == platform_seal.pk  # type: ignore[union-attr]
    assert {c.role for c in SigningCredential.objects.filter(key_store="external")} == {
        Role.CA_ROOT,
        Role.CA_INTERMEDIATE,
    }
    assert CertificateRevocationList.objects.filter(issuer__key_store="external").count() == 2
    assert PendingKey.objects.get().status == "used"

    sealed = signers.seal_document(policy_pdf, box=SEAL_BOX)
    assert sealed.certificate_serial == cred.serial
    report = verify_pdf(sealed.pdf)
    assert report.code == "genuine", report
    (sig,) = report.signatures
    assert sig.signer_role == "insurer" and sig.certificate_serial == cred.serial

    second = _licensed("seal", test_ca)  # the next year's certificate from the same CA
    assert second.previous is not None and second.previous.pk == cred.pk
    again = signers.seal_document(policy_pdf, box=SEAL_BOX)
    assert again.certificate_serial == second.credential.serial
    assert verify_pdf(again.pdf).code == "genuine"
    assert verify_pdf(sealed.pdf).code == "genuine"  # the old licensed seal's document

    p.pki_rotate("seal")  # back to the platform's own issuing CA: every document still verifies
    for document in (before, sealed.pdf, again.pdf, signers.seal_document(policy_pdf, box=SEAL_BOX).pdf):
        assert verify_pdf(document).code == "genuine"


@pytest.mark.django_db
def test_the_commands_with_a_files_key_store(pki, test_ca, settings, tmp_path, policy_pdf):
    settings.SIGNING_KEY_DIR = str(tmp_path / "keys")
    csr = tmp_path / "seal.csr"
    err = io.StringIO()
    call_command("pki_csr", "--role", "seal", "--key-store", "file", "--out", str(csr), stderr=err)
    assert "key in files" in err.getvalue()
    pending = PendingKey.objects.get()
    assert (tmp_path / "keys" / pending.key_ref).read_bytes().startswith(b"-----BEGIN ENCRYPTED")
    chain = tmp_path / "chain.pem"
    chain.write_bytes(test_ca.sign(csr.read_bytes()))
    out = io.StringIO()
    call_command("pki_import", "--role", "seal", "--chain", str(chain), stdout=out)
    assert "imported seal" in out.getvalue()
    cred = SigningCredential.active_for(Role.SEAL)
    assert cred is not None and cred.key_store == "files" and cred.key_ref == pending.key_ref
    assert verify_pdf(signers.seal_document(policy_pdf, box=SEAL_BOX).pdf).code == "genuine"


@pytest.fixture
def token(settings, softhsm_token):
    settings.SIGNING_KEYSTORE = "pkcs11"
    settings.PKCS11 = dict(softhsm_token)
    return softhsm_token


@pytest.mark.django_db
def test_the_cycle_with_the_seal_key_in_softhsm(pki, token, test_ca, policy_pdf):
    from pkcs11 import Attribute, ObjectClass

    from epolicy.signing import keystore

    first = _licensed("seal", test_ca, key_store="pkcs11").credential
    assert first.key_store == "pkcs11" and bytes(first.private_key) == b""
    session = keystore.pkcs11_session()
    (key,) = list(
        session.get_objects({Attribute.CLASS: ObjectClass.PRIVATE_KEY, Attribute.LABEL: first.key_ref})
    )
    assert key[Attribute.EXTRACTABLE] is False
    (cert,) = list(
        session.get_objects({Attribute.CLASS: ObjectClass.CERTIFICATE, Attribute.LABEL: first.key_ref})
    )
    assert cert[Attribute.VALUE] == bytes(first.certificate)

    old = signers.seal_document(policy_pdf, box=SEAL_BOX)
    assert old.certificate_serial == first.serial
    assert verify_pdf(old.pdf).code == "genuine"
    second = _licensed("seal", test_ca, key_store="pkcs11").credential
    new = signers.seal_document(policy_pdf, box=SEAL_BOX)
    assert new.certificate_serial == second.serial
    assert verify_pdf(new.pdf).code == "genuine"
    assert verify_pdf(old.pdf).code == "genuine"


@pytest.mark.django_db
def test_a_licensed_tsa_timestamps_and_its_chain_travels_in_the_token(pki, test_ca, policy_pdf):
    result = _licensed("tsa", test_ca)
    sealed = signers.seal_document(policy_pdf, box=SEAL_BOX)
    report = verify_pdf(sealed.pdf)
    assert report.code == "genuine", report
    assert result.credential.role == Role.TSA and result.credential.active


@pytest.mark.django_db
def test_a_licensed_customer_ca_issues_the_applicants_event_certificates(
    pki, test_ca, policy_pdf, signature_png, settings
):
    settings.PROVIDERS = {
        **settings.PROVIDERS,
        "event_ca": "epolicy.signing.event_ca.licensed.LicensedCustomerCa",
    }
    with pytest.raises(ApplicationError) as refused:
        p.issue_event_certificate(name="张三", subject_serial="ab" * 16)
    assert refused.value.code == "pki_missing"  # the applicant sees a coded 503, never a server error
    assert isinstance(refused.value.__cause__, EventCaError) and "licensed CA" in str(refused.value.__cause__)
    ca = _licensed("customer_ca", test_ca).credential
    signed = signers.sign_application(
        make_pdf(kind="application", number="TDAA202611000009", pages=1),
        box=APPLICANT_BOX,
        signer_name="张三",
        subject_serial="ab" * 16,
        signature_png=signature_png,
    )
    report = verify_pdf(signed.pdf)
    assert report.code == "genuine", report
    assert report.signatures[0].signer_role == "applicant"
    cert, _ = p.issue_event_certificate(name="李四", subject_serial="cd" * 16)
    issuer = p.event_certificate_issuer(cert)
    assert ca.subject in issuer and test_ca.intermediate.subject.rfc4514_string() in issuer


@pytest.mark.django_db
def test_renewing_our_issuing_ca_leaves_a_licensed_seal_in_place(pki, test_ca, root_key):
    seal = _licensed("seal", test_ca).credential
    changes = p.pki_rotate("issuing_ca", root_key=root_key)
    assert Role.SEAL not in changes
    assert SigningCredential.active_for(Role.SEAL).pk == seal.pk  # type: ignore[union-attr]


# ---------------------------------------------------------------------------------------------------------
# Refusals: coded, and nothing changes


def _other_key_chain(ca: TestCa) -> bytes:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(licensed.csr_subject("seal"))
        .add_extension(x509.KeyUsage(True, True, False, False, False, False, False, False, False), True)
        .sign(key, hashes.SHA256())
    )
    return ca.sign(csr.public_bytes(serialization.Encoding.PEM))


def _leaf_only(chain: bytes) -> bytes:
    return x509.load_pem_x509_certificates(chain)[0].public_bytes(serialization.Encoding.PEM)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("case", "code"),
    [
        ("wrong_key", "licensed_key_mismatch"),
        ("broken_chain", "licensed_chain_incomplete"),
        ("expired", "licensed_expired"),
        ("wrong_key_usage", "licensed_key_usage"),
        ("revoked", "licensed_revoked"),
        ("crl_unreachable", "licensed_crl_unavailable"),
    ],
)
def test_an_import_refused_leaves_everything_as_it_was(pki, test_ca, policy_pdf, case, code, monkeypatch):
    pending = licensed.create_request("seal", key_store="database")
    now = dt.datetime.now(dt.UTC)
    if case == "wrong_key":
        chain = _other_key_chain(test_ca)
    elif case == "broken_chain":
        chain = _leaf_only(test_ca.sign(pending.csr_pem))
    elif case == "expired":
        chain = test_ca.sign(
            pending.csr_pem, not_before=now - dt.timedelta(days=400), not_after=now - dt.timedelta(days=1)
        )
    elif case == "wrong_key_usage":
        usage = x509.KeyUsage(False, False, True, False, False, False, False, False, False)  # keyEncipherment
        chain = test_ca.sign(pending.csr_pem, key_usage=usage)
    elif case == "revoked":
        chain = test_ca.sign(pending.csr_pem)
        test_ca.revoke(
            x509.load_pem_x509_certificates(chain)[0].serial_number, at=now - dt.timedelta(minutes=5)
        )
    else:
        chain = test_ca.sign(pending.csr_pem)
        monkeypatch.setattr(TestCa, "crl", lambda self, which: b"<html>maintenance</html>")
    before = _state()
    seal_before = SigningCredential.active_for(Role.SEAL)
    with pytest.raises(licensed.LicensedCaError) as exc:
        licensed.import_certificate("seal", chain)
    assert exc.value.code == code, exc.value
    assert _state() == before
    assert SigningCredential.active_for(Role.SEAL).pk == seal_before.pk  # type: ignore[union-attr]
    assert PendingKey.objects.get(pk=pending.pk).status == "pending"
    assert verify_pdf(signers.seal_document(policy_pdf, box=SEAL_BOX).pdf).code == "genuine"


@pytest.mark.django_db
def test_the_import_command_reports_the_code(pki, test_ca, tmp_path):
    licensed.create_request("seal", key_store="database")
    chain = tmp_path / "other.pem"
    chain.write_bytes(_other_key_chain(test_ca))
    with pytest.raises(CommandError, match="licensed_key_mismatch"):
        call_command("pki_import", "--role", "seal", "--chain", str(chain))


@pytest.mark.django_db
def test_crls_given_as_files_serve_without_network(pki, test_ca, tmp_path):
    pending = licensed.create_request("seal", key_store="database")
    chain = test_ca.sign(pending.csr_pem)
    with pytest.raises(licensed.LicensedCaError) as exc:
        licensed.import_certificate("seal", chain, fetch=False)
    assert exc.value.code == "licensed_crl_unavailable"
    result = licensed.import_certificate(
        "seal", chain, fetch=False, crl_files=[test_ca.crl("intermediate"), test_ca.crl("root")]
    )
    assert result.credential.active


# ---------------------------------------------------------------------------------------------------------
# Revocation by the outside CA, and an outside TSA


@pytest.mark.django_db
def test_a_seal_the_licensed_ca_revoked_is_detected_through_its_crl(pki, test_ca, policy_pdf):
    from epolicy.signing import crl

    cred = _licensed("seal", test_ca).credential
    revoked_at = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=30)
    signed_before = signers.seal_document(policy_pdf, box=SEAL_BOX).pdf
    assert verify_pdf(signed_before).code == "genuine"
    test_ca.revoke(int(cred.serial, 16), at=revoked_at)  # e.g. key compromise, known from 30 s ago
    assert p.external.refresh_external_crls(force=True)
    report = verify_pdf(signed_before)
    assert report.code == "revoked", report
    # The scheduled job keeps the CRLs current without force once half their validity has passed.
    assert isinstance(crl.refresh_crls(), list)


@pytest.mark.django_db
def test_ocsp_revocation_refuses_an_import_even_before_the_crl_says_so(pki, test_ca):
    pending = licensed.create_request("seal", key_store="database")
    chain = test_ca.sign(pending.csr_pem)
    leaf = x509.load_pem_x509_certificates(chain)[0]
    assert p.external.ocsp_status(leaf, test_ca.intermediate, f"{test_ca.base_url}/ocsp") is None
    crls_before = [test_ca.crl("intermediate"), test_ca.crl("root")]
    test_ca.revoke(leaf.serial_number)
    status = p.external.ocsp_status(leaf, test_ca.intermediate, f"{test_ca.base_url}/ocsp")
    assert status is not None
    # CRLs fetched before the revocation, given by hand: the OCSP answer still refuses the import.
    with pytest.raises(licensed.LicensedCaError) as exc:
        licensed.import_certificate("seal", chain, crl_files=crls_before)
    assert exc.value.code == "licensed_revoked"
    assert "OCSP" in exc.value.message
    assert PendingKey.objects.get(pk=pending.pk).status == "pending"


@pytest.mark.django_db
def test_an_outside_tsa_certified_by_a_licensed_ca_is_trusted_once_its_root_is(
    pki, test_ca, policy_pdf, monkeypatch, tmp_path
):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "外部时间戳服务（持证 CA）")]))
        .add_extension(x509.KeyUsage(True, True, False, False, False, False, False, False, False), True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), True)
        .sign(key, hashes.SHA256())
    )
    chain = x509.load_pem_x509_certificates(test_ca.sign(csr.public_bytes(serialization.Encoding.PEM)))
    tsa_cert, intermediate = chain[0], chain[1]
    monkeypatch.setattr(
        tsa_module,
        "timestamper",
        lambda credential=None: DummyTimeStamper(
            tsa_cert=p.to_asn1(tsa_cert), tsa_key=p.key_to_asn1(key), certs_to_embed=[p.to_asn1(intermediate)]
        ),
    )
    monkeypatch.setattr(tsa_module, "uses_platform_tsa", lambda: False)
    sealed = signers.seal_document(policy_pdf, box=SEAL_BOX).pdf
    assert verify_pdf(sealed).code == "untrusted_signer"
    bundle = tmp_path / "tsa-chain.pem"
    bundle.write_bytes(b"".join(c.public_bytes(serialization.Encoding.PEM) for c in chain))
    out = io.StringIO()
    call_command("pki_trust_tsa", str(bundle), stdout=out)
    assert "trusted TSA root" in out.getvalue()
    assert verify_pdf(sealed).code == "genuine"


# ---------------------------------------------------------------------------------------------------------
# The event CA provider


@pytest.mark.django_db
def test_an_outside_event_ca_over_est_issues_the_applicants_certificates(
    pki, test_ca, policy_pdf, signature_png, settings, monkeypatch
):
    import base64
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from cryptography.hazmat.primitives.serialization import pkcs7

    # The outside CA's event-certificate CA: a CA certificate under the test CA's intermediate.
    event_ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca_csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "外部事件证书 CA")]))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), True)
        .sign(event_ca_key, hashes.SHA256())
    )
    ca_chain = test_ca.sign(ca_csr.public_bytes(serialization.Encoding.PEM))
    event_ca = x509.load_pem_x509_certificates(ca_chain)[0]

    class Est(BaseHTTPRequestHandler):
        def log_message(self, *args):
            return

        def do_POST(self):
            csr = x509.load_der_x509_csr(
                base64.b64decode(self.rfile.read(int(self.headers["Content-Length"])))
            )
            now = dt.datetime.now(dt.UTC)
            cert = (
                x509.CertificateBuilder()
                .subject_name(csr.subject)
                .issuer_name(event_ca.subject)
                .public_key(csr.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - dt.timedelta(minutes=5))
                .not_valid_after(now + dt.timedelta(days=1))
                .add_extension(
                    x509.KeyUsage(True, True, False, False, False, False, False, False, False), True
                )
                .add_extension(
                    x509.AuthorityKeyIdentifier.from_issuer_public_key(event_ca_key.public_key()), False
                )
                .add_extension(
                    x509.CRLDistributionPoints(
                        [
                            x509.DistributionPoint(
                                [x509.UniformResourceIdentifier(f"http://127.0.0.1:{port}/ev.crl")],
                                None,
                                None,
                                None,
                            )
                        ]
                    ),
                    False,
                )
                .sign(event_ca_key, hashes.SHA256())
            )
            body = base64.encodebytes(pkcs7.serialize_certificates([cert], serialization.Encoding.DER))
            self.send_response(200)
            self.send_header("Content-Type", "application/pkcs7-mime; smime-type=certs-only")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Est)
    port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.setenv("EPOLICY_EVENT_CA_EST_URL", f"http://127.0.0.1:{port}/.well-known/est")
        settings.PROVIDERS = {**settings.PROVIDERS, "event_ca": "epolicy.signing.event_ca.est.EstEventCa"}
        # Until its CA is the active customer CA, an answer from it is refused before anything signs.
        with pytest.raises(ApplicationError) as refused:
            p.issue_event_certificate(name="张三", subject_serial="ab" * 16)
        assert refused.value.code == "pki_missing"
        assert "not issued by the active customer CA" in str(refused.value.__cause__)
        result = licensed.import_certificate("customer_ca", ca_chain, outside_key=True)
        assert result.credential.key_store == "external"
        # Its CRL: the outside event CA's own, published like any CA's (here given by hand).
        now = dt.datetime.now(dt.UTC)
        ev_crl = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(event_ca.subject)
            .last_update(now - dt.timedelta(minutes=1))
            .next_update(now + dt.timedelta(days=1))
            .add_extension(x509.CRLNumber(1), False)
            .sign(event_ca_key, hashes.SHA256())
        )
        p.external.store_external_crl(result.credential, ev_crl)
        signed = signers.sign_application(
            make_pdf(kind="application", number="TDAA202611000009", pages=1),
            box=APPLICANT_BOX,
            signer_name="张三",
            subject_serial="ab" * 16,
            signature_png=signature_png,
        )
        report = verify_pdf(signed.pdf)
        assert report.code == "genuine", report
        assert report.signatures[0].signer_role == "applicant"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.django_db
def test_the_development_test_ca_command(settings, tmp_path):
    directory = tmp_path / "ca"
    call_command("pki_test_ca", "init", "--dir", str(directory), stdout=io.StringIO())
    assert (directory / "root.crt").exists()
    settings.PRODUCTION = True
    with pytest.raises(CommandError, match="development only"):
        call_command("pki_test_ca", "init", "--dir", str(tmp_path / "other"))


def test_an_event_ca_that_cannot_issue_is_a_coded_refusal_not_a_server_error(pki, settings):
    """An outside event CA unreachable or refusing: the applicant is told the signing service is
    unavailable (pki_missing, 503), as when the signing service itself is down."""
    from epolicy.common.errors import ApplicationError
    from epolicy.signing import pki as platform_pki

    settings.PROVIDERS = {**settings.PROVIDERS, "event_ca": "tests.signing.test_licensed_ca.DownEventCa"}
    with pytest.raises(ApplicationError) as err:
        platform_pki.issue_event_certificate(name="张三", subject_serial="ab" * 16)
    assert err.value.code == "pki_missing" and err.value.details == {"reason": "event_ca"}


class DownEventCa:
    name = "down"

    def issue(self, request):
        from epolicy.signing.event_ca import EventCaError

        raise EventCaError("connection refused")
