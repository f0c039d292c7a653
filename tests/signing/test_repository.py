"""The public PKI repository: the CRL and CA-certificate URLs in our certificates, and what serves them."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtensionOID
from django.conf import settings as django_settings
from django.test import Client

from epolicy.common import clock
from epolicy.signing import crl, repository, signers, views
from epolicy.signing import pki as pki_mod
from epolicy.signing.models import SigningCredential

from .conftest import APPLICANT_BOX, SEAL_BOX, have, make_pdf, pdfsig, run

pytestmark = pytest.mark.django_db
Role = SigningCredential.Role
CA_ROLES = (Role.ROOT_CA, Role.ISSUING_CA, Role.CUSTOMER_CA)
ISSUER_OF = {
    Role.ISSUING_CA: Role.ROOT_CA,
    Role.SEAL: Role.ISSUING_CA,
    Role.CUSTOMER_CA: Role.ROOT_CA,
    Role.TSA: Role.ROOT_CA,
}
# TEST-NET-1 (RFC 5737): never assigned, so a client that tried to fetch from it would hang until timeout.
UNREACHABLE = "http://192.0.2.1"


def cert_of(credential: SigningCredential | None) -> x509.Certificate:
    assert credential is not None
    return x509.load_der_x509_certificate(bytes(credential.certificate))


def active(role: str) -> x509.Certificate:
    return cert_of(SigningCredential.active_for(role))


def event_certificate() -> x509.Certificate:
    cert, _key = pki_mod.issue_event_certificate(name="张三", subject_serial="ab" * 16)
    return cert


def pointers(cert: x509.Certificate) -> tuple[str, str]:
    """(CRL URL, caIssuers URL) of a certificate; each extension holds just that and is not critical."""
    cdp = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints)
    aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess)
    assert not cdp.critical and not aia.critical
    (point,) = cdp.value
    assert point.reasons is None and point.crl_issuer is None and point.relative_name is None
    (crl_name,) = point.full_name or []
    (access,) = aia.value  # caIssuers only: no OCSP responder is published
    assert access.access_method == AuthorityInformationAccessOID.CA_ISSUERS
    assert isinstance(crl_name, x509.UniformResourceIdentifier)
    assert isinstance(access.access_location, x509.UniformResourceIdentifier)
    return crl_name.value, access.access_location.value


def expected_urls(issuer_role: str, issuer: x509.Certificate) -> tuple[str, str]:
    ski = issuer.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest.hex()
    name = f"{issuer_role.replace('_', '-')}-{ski[:16]}"
    base = django_settings.PKI_URL
    return f"{base}/pki/crl/{name}.crl", f"{base}/pki/ca/{name}.crt"


def get(client: Client, url: str, etag: str | None = None):
    """GET the path of one of our URLs (the test client is the site), conditionally with an ETag."""
    return client.get(urlsplit(url).path, headers={"If-None-Match": etag} if etag else {})


def served_crl(client: Client, url: str) -> x509.CertificateRevocationList:
    response = get(client, url)
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/pkix-crl"
    return x509.load_der_x509_crl(response.content)


# ---------------------------------------------------------------------------------------------------------
# The extensions


def test_every_certificate_below_a_root_names_its_issuers_crl_and_certificate(pki):
    for role, issuer_role in ISSUER_OF.items():
        cert, issuer = active(role), active(issuer_role)
        assert pointers(cert) == expected_urls(issuer_role, issuer), role
        # The name's key identifier is the one the certificate's AuthorityKeyIdentifier carries.
        aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value.key_identifier
        assert aki is not None and aki.hex()[:16] in pointers(cert)[0]
    root = active(Role.ROOT_CA)
    present = {ext.oid for ext in root.extensions}
    assert ExtensionOID.CRL_DISTRIBUTION_POINTS not in present
    assert ExtensionOID.AUTHORITY_INFORMATION_ACCESS not in present


def test_event_certificates_point_at_the_customer_ca_under_the_configured_base(pki, settings):
    settings.PKI_URL = "http://pki.insurer.example"
    crl_url, ca_url = pointers(event_certificate())
    assert (crl_url, ca_url) == expected_urls(Role.CUSTOMER_CA, active(Role.CUSTOMER_CA))
    assert crl_url.startswith("http://pki.insurer.example/pki/crl/customer-ca-")


def test_after_a_rotation_old_certificates_still_point_at_the_ca_that_issued_them(pki, client, root_key):
    old_seal, old_ca = active(Role.SEAL), active(Role.ISSUING_CA)
    pki_mod.pki_rotate(Role.ISSUING_CA, root_key=root_key)
    new_seal, new_ca = active(Role.SEAL), active(Role.ISSUING_CA)
    assert pointers(new_seal) == expected_urls(Role.ISSUING_CA, new_ca)
    assert pointers(new_seal) != pointers(old_seal)
    # The old URLs keep serving the old CA's CRL (it still publishes) and certificate, the new ones the new.
    for seal, ca in ((old_seal, old_ca), (new_seal, new_ca)):
        crl_url, ca_url = pointers(seal)
        assert served_crl(client, crl_url).is_signature_valid(ca.public_key())  # type: ignore[arg-type]
        assert get(client, ca_url).content == ca.public_bytes(Encoding.DER)
    # The bare role follows the rotation.
    assert client.get("/pki/ca/issuing-ca.crt").content == new_ca.public_bytes(Encoding.DER)


# ---------------------------------------------------------------------------------------------------------
# The endpoints


def issued_certificates() -> list[tuple[x509.Certificate, x509.Certificate]]:
    """(certificate, its issuer) for every certificate below the root, and an event certificate."""
    pairs = [(active(role), active(issuer_role)) for role, issuer_role in ISSUER_OF.items()]
    return [*pairs, (event_certificate(), active(Role.CUSTOMER_CA))]


def test_each_crl_url_serves_a_crl_of_that_ca_with_cache_headers(pki, client):
    for cert, issuer in issued_certificates():
        crl_url, _ = pointers(cert)
        response = get(client, crl_url)
        assert response.status_code == 200
        assert response["Content-Type"] == "application/pkix-crl"
        parsed = x509.load_der_x509_crl(response.content)
        assert parsed.issuer == issuer.subject
        assert parsed.is_signature_valid(issuer.public_key())  # type: ignore[arg-type]
        assert parsed.next_update_utc is not None and parsed.next_update_utc > clock.now()
        assert response["ETag"].startswith('"') and response["Last-Modified"]
        assert "public" in response["Cache-Control"]
        assert "max-age=3600" in response["Cache-Control"]


def test_each_ca_certificate_url_serves_the_issuer_as_der(pki, client):
    for cert, issuer in issued_certificates():
        _, ca_url = pointers(cert)
        response = get(client, ca_url)
        assert response.status_code == 200
        assert response["Content-Type"] == "application/pkix-cert"
        assert response.content == issuer.public_bytes(Encoding.DER)
        cert.verify_directly_issued_by(x509.load_der_x509_certificate(response.content))
        assert "max-age=86400" in response["Cache-Control"]
        name = urlsplit(ca_url).path.rsplit("/", 1)[1]
        assert response["Content-Disposition"] == f'attachment; filename="{name}"'


def test_bare_role_names_serve_the_active_ca_under_its_keyed_file_name(pki, client):
    for role in CA_ROLES:
        ca = active(role)
        keyed = repository.ca_name(role, ca)
        response = client.get(f"/pki/ca/{role.replace('_', '-')}.crt")
        assert response.content == ca.public_bytes(Encoding.DER)
        assert response["Content-Disposition"] == f'attachment; filename="{keyed}.crt"'
        assert "max-age=3600" in response["Cache-Control"]
        served = client.get(f"/pki/crl/{role.replace('_', '-')}.crl").content
        assert x509.load_der_x509_crl(served).is_signature_valid(ca.public_key())  # type: ignore[arg-type]


def test_a_revoked_certificate_is_in_the_served_crl_at_once_and_the_etag_changes(pki, client):
    cert = event_certificate()
    crl_url, _ = pointers(cert)
    before = get(client, crl_url)
    assert before.status_code == 200
    assert (
        x509.load_der_x509_crl(before.content).get_revoked_certificate_by_serial_number(cert.serial_number)
        is None
    )
    assert get(client, crl_url, etag=before["ETag"]).status_code == 304

    crl.revoke_certificate(
        serial=format(cert.serial_number, "x"), issuer_role=Role.CUSTOMER_CA, reason="key_compromise"
    )

    after = get(client, crl_url, etag=before["ETag"])
    assert after.status_code == 200 and after["ETag"] != before["ETag"]
    entry = x509.load_der_x509_crl(after.content).get_revoked_certificate_by_serial_number(cert.serial_number)
    assert entry is not None
    assert (
        entry.extensions.get_extension_for_class(x509.CRLReason).value.reason
        == x509.ReasonFlags.key_compromise
    )


def test_a_stale_crl_is_reissued_before_it_is_served(pki, client):
    url = "/pki/crl/issuing-ca.crl"
    first = x509.load_der_x509_crl(client.get(url).content)
    root_crl = client.get("/pki/crl/root-ca.crl").content
    number = first.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    later = clock.now() + crl.CRL_VALIDITY - crl.CRL_REFRESH_BEFORE + dt.timedelta(hours=1)
    with clock.frozen_clock(later):
        response = client.get(url)
        # The offline root's CRL is valid for months and is served as the operator last issued it.
        assert client.get("/pki/crl/root-ca.crl").content == root_crl
    reissued = x509.load_der_x509_crl(response.content)
    assert reissued.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == number + 1
    assert reissued.last_update_utc >= later - dt.timedelta(seconds=1)


@pytest.mark.parametrize(
    "path",
    [
        "/pki/crl/nope.crl",
        "/pki/crl/issuing-ca-0000000000000000.crl",
        "/pki/crl/issuing-ca-00.crl",
        "/pki/crl/seal.crl",
        "/pki/crl/tsa.crl",
        "/pki/crl/issuing-ca.crt",
        "/pki/crl/issuing-ca",
        "/pki/ca/root-ca.crl",
        "/pki/ca/Root-CA.crt",
        "/pki/ca/..%2Froot-ca.crt",
        "/pki/ca/sub/root-ca.crt",
    ],
)
def test_unknown_names_are_a_plain_404(pki, client, path):
    response = client.get(path)
    assert response.status_code == 404
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert b"No such CA" in response.content


def test_the_repository_is_read_only_and_needs_no_login(pki, client):
    assert client.post("/pki/crl/root-ca.crl").status_code == 405
    assert client.head("/pki/ca/root-ca.crt").status_code == 200
    assert client.get("/pki/ca/root-ca.crt").status_code == 200  # anonymous


@pytest.mark.parametrize(
    ("left", "max_age"),
    [
        (dt.timedelta(days=7), dt.timedelta(hours=1)),
        (dt.timedelta(hours=2), dt.timedelta(hours=1)),
        (dt.timedelta(minutes=90), dt.timedelta(minutes=30)),
        (dt.timedelta(minutes=30), dt.timedelta(0)),
        (-dt.timedelta(days=1), dt.timedelta(0)),
    ],
)
def test_caches_keep_a_crl_an_hour_at_most_and_never_until_its_next_update(left, max_age):
    now = dt.datetime(2026, 11, 5, tzinfo=dt.UTC)
    assert views.crl_max_age(now + left, now) == max_age


# ---------------------------------------------------------------------------------------------------------
# Independent tools


def _pem(path: Path, *certs: x509.Certificate) -> Path:
    path.write_bytes(b"".join(c.public_bytes(Encoding.PEM) for c in certs))
    return path


def _served_crl_pem(client: Client, cert: x509.Certificate, path: Path) -> Path:
    path.write_bytes(served_crl(client, pointers(cert)[0]).public_bytes(Encoding.PEM))
    return path


@pytest.mark.crosscheck
@pytest.mark.skipif(not have("openssl"), reason="openssl not installed")
def test_openssl_verify_crl_check_accepts_the_seal_with_the_served_crls_then_sees_it_revoked(
    pki, client, tmp_path
):
    seal, issuing = active(Role.SEAL), active(Role.ISSUING_CA)
    root = _pem(tmp_path / "root.pem", active(Role.ROOT_CA))
    chain = _pem(tmp_path / "issuing.pem", issuing)
    leaf = _pem(tmp_path / "seal.pem", seal)

    def verify(flag: str) -> tuple[int, str]:
        crls = [_served_crl_pem(client, seal, tmp_path / "issuing.crl.pem")]
        crls.append(_served_crl_pem(client, issuing, tmp_path / "root.crl.pem"))
        args = ["openssl", "verify", flag, "-CAfile", str(root), "-untrusted", str(chain)]
        for path in crls:
            args += ["-CRLfile", str(path)]
        result = run([*args, str(leaf)])
        return result.returncode, result.stdout + result.stderr

    for flag in ("-crl_check", "-crl_check_all"):
        code, out = verify(flag)
        assert code == 0 and f"{leaf}: OK" in out, out
    crl.revoke_certificate(serial=pki_mod.serial_hex(seal), reason="key_compromise")
    code, out = verify("-crl_check")
    assert code != 0 and "certificate revoked" in out, out


@pytest.mark.crosscheck
@pytest.mark.skipif(not have("pdfsig"), reason="pdfsig (poppler-utils) not installed")
def test_pdfsig_does_not_fetch_the_urls_in_our_certificates(
    pki, settings, signature_png, tmp_path, write, root_key
):
    """pdfsig (poppler 22.12, NSS) validates from the chain in the signature and fetches nothing, so a
    document whose every URL points at an address that never answers is judged at once."""
    settings.PKI_URL = UNREACHABLE
    pki_mod.pki_init(force=True, root_key=root_key)
    for document in (
        signers.seal_document(make_pdf(), box=SEAL_BOX).pdf,
        signers.sign_application(
            make_pdf(kind="application"),
            box=APPLICANT_BOX,
            signer_name="张三",
            subject_serial="9f" * 16,
            signature_png=signature_png,
        ).pdf,
    ):
        nss = _nss_trusting(active(Role.ROOT_CA), tmp_path)
        path = write("doc.pdf", document)
        for extra in ([], ["-aia"]):
            started = time.monotonic()
            result = run(pdfsig(nss, path)[:-1] + extra + [str(path)])
            elapsed = time.monotonic() - started
            assert "Signature is Valid." in result.stdout, result.stdout
            if nss is not None:
                assert "Certificate is Trusted." in result.stdout, result.stdout
            assert elapsed < 5, f"pdfsig {extra} took {elapsed:.1f} s: it tried to fetch {UNREACHABLE}"


def _nss_trusting(root: x509.Certificate, tmp_path: Path) -> str | None:
    if not have("certutil"):
        return None
    db = tmp_path / f"nss-{root.serial_number:x}"
    if not db.exists():
        db.mkdir()
        pem = _pem(tmp_path / "unreachable-root.pem", root)
        assert run(["certutil", "-N", "-d", f"sql:{db}", "--empty-password"]).returncode == 0
        added = run(["certutil", "-A", "-d", f"sql:{db}", "-n", "root", "-t", "CT,C,C", "-a", "-i", str(pem)])
        assert added.returncode == 0, added.stderr
    return f"sql:{db}"
