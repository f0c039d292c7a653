"""The PKI repository: where relying parties find our CAs' certificates and CRLs (RFC 5280 §4.2.1.13).

Every certificate a CA of ours issues names, in its CRLDistributionPoints and AuthorityInformationAccess
(caIssuers) extensions, two URLs under settings.PKI_URL (EPOLICY_PKI_URL, by default EPOLICY_SITE_URL):

    <PKI_URL>/pki/crl/<name>.crl    the issuing CA's newest CRL, DER (application/pkix-crl)
    <PKI_URL>/pki/ca/<name>.crt     the issuing CA's certificate, DER (application/pkix-cert)

`<name>` is the CA's role and the first 16 hex digits of its key identifier, e.g.
`issuing-ca-3f2a9c0d11e84b7a`: the key identifier is the one the issued certificate's
AuthorityKeyIdentifier carries. Rotation gives a CA a new key, hence a new name, while the rotated-out CA
keeps its own: a certificate issued before the rotation still points at the CRL of the CA that issued it
(and that CA keeps publishing CRLs until its certificate expires, see `crl`). All generations of a CA
have the same subject, so the role alone could not tell them apart.

The bare role (`root-ca`, `issuing-ca`, `customer-ca`) names the active CA of that role, for people and
monitoring (e.g. "download our root certificate"); certificates never carry it. Self-signed roots carry
neither extension, and there is no OCSP URL: the platform runs no OCSP responder over HTTP.
"""

from __future__ import annotations

import re

from cryptography import x509
from cryptography.x509.oid import AuthorityInformationAccessOID
from django.conf import settings

from .models import SigningCredential

Role = SigningCredential.Role
CRL_PATH = "/pki/crl/"
CA_PATH = "/pki/ca/"
CRL_SUFFIX = ".crl"
CA_SUFFIX = ".crt"
KEY_ID_DIGITS = 16
PUBLISHED_ROLES: tuple[str, ...] = (Role.ROOT_CA, Role.ISSUING_CA, Role.CUSTOMER_CA)

_NAME = re.compile(rf"(root-ca|issuing-ca|customer-ca)(?:-([0-9a-f]{{{KEY_ID_DIGITS}}}))?")


def key_id(cert: x509.Certificate) -> str:
    """The certificate's subject key identifier in hex (computed from the key if the extension is absent)."""
    try:
        digest = cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    except x509.ExtensionNotFound:
        digest = x509.SubjectKeyIdentifier.from_public_key(cert.public_key()).digest
    return digest.hex()


def role_slug(role: str) -> str:
    return role.replace("_", "-")


def ca_name(role: str, cert: x509.Certificate) -> str:
    """The stable public name of one CA (one key): `<role>-<first 16 hex digits of its key identifier>`."""
    if role not in PUBLISHED_ROLES:
        raise ValueError(f"{role!r} is not a CA role")
    return f"{role_slug(role)}-{key_id(cert)[:KEY_ID_DIGITS]}"


def crl_url(name: str) -> str:
    return f"{settings.PKI_URL}{CRL_PATH}{name}{CRL_SUFFIX}"


def ca_certificate_url(name: str) -> str:
    return f"{settings.PKI_URL}{CA_PATH}{name}{CA_SUFFIX}"


def issuer_pointers(issuer_role: str, issuer: x509.Certificate) -> list[x509.ExtensionType]:
    """The extensions (both non-critical) naming where `issuer` publishes its CRL and its certificate."""
    name = ca_name(issuer_role, issuer)
    distribution = x509.DistributionPoint(
        full_name=[x509.UniformResourceIdentifier(crl_url(name))],
        relative_name=None,
        reasons=None,
        crl_issuer=None,
    )
    ca_issuers = x509.AccessDescription(
        AuthorityInformationAccessOID.CA_ISSUERS, x509.UniformResourceIdentifier(ca_certificate_url(name))
    )
    return [x509.CRLDistributionPoints([distribution]), x509.AuthorityInformationAccess([ca_issuers])]


def find_ca(name: str) -> SigningCredential | None:
    """The CA credential a public name stands for (a bare role: the active one), or None."""
    match = _NAME.fullmatch(name)
    if match is None:
        return None
    role = match[1].replace("-", "_")
    wanted = match[2]
    if wanted is None:
        return SigningCredential.active_for(role)
    for credential in SigningCredential.objects.filter(role=role).order_by("-created_at", "-id"):
        if key_id(x509.load_der_x509_certificate(bytes(credential.certificate))).startswith(wanted):
            return credential
    return None


def is_alias(name: str) -> bool:
    """True for a bare role name, which follows rotations (a keyed name always means the same CA)."""
    match = _NAME.fullmatch(name)
    return match is not None and match[2] is None
