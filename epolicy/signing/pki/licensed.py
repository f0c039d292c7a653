"""Certificates from a licensed CA (电子认证服务机构) for the seal, the TSA and the customer CA.

Two steps, as with any CA:

1. `create_request(role, key_store=...)` makes a key pair in a key store (database, files, or for the
   seal a PKCS#11 token), keeps it as a `PendingKey`, and returns a PKCS#10 request (PEM) with the
   insurer's subject (settings.INSURER: name, USCC as serialNumber and organizationIdentifier) and the
   key usage the role needs. The operator sends it to the CA.
2. `import_certificate(role, chain)` takes what the CA returns (the certificate and its chain: PEM,
   DER or PKCS#7) and checks, before changing anything, that the certificate is for a pending key of
   that role (same public key), that its chain builds to a self-signed root, that every certificate is
   within its validity, that the key usage suits the role, and that the CA's CRLs (fetched from the
   distribution points, or given as files) and OCSP responder do not list it as revoked. Then, in one
   transaction, the CA's certificates become trusted for verification (roles `ca_root` and
   `ca_intermediate`, no key, their CRLs stored), the role's active credential is replaced by the new
   one (the old one is deactivated and stays trusted, as with `pki_rotate`), and the pending key is
   marked used. A refusal raises `LicensedCaError` with a stable code and leaves everything as it was.

SM2 keys and requests are not made here: SM2 signing comes with the SM2 signing track.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from asn1crypto import csr as asn1_csr
from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from django.conf import settings
from django.db import transaction

from epolicy.common import clock

from .. import keystore
from ..models import CertificateRevocationList, PendingKey, SigningCredential
from .certificates import Role, _names, fingerprint, serial_hex
from .loading import _issued_by, clear_cache

logger = logging.getLogger(__name__)

KeyStore = SigningCredential.KeyStore
ROLES: tuple[str, ...] = (Role.SEAL, Role.TSA, Role.CUSTOMER_CA)
ALGORITHMS = ("rsa", "sm2")
KEY_STORES: dict[str, str] = {
    "database": KeyStore.DATABASE,
    "files": KeyStore.FILES,
    "file": KeyStore.FILES,
    "pkcs11": KeyStore.PKCS11,
}
EXTERNAL_CA_ROLES = (Role.CA_ROOT, Role.CA_INTERMEDIATE)
_MAX_CHAIN = 6


class LicensedCaError(Exception):
    """A request or an import refused; `code` is stable (docs/pki.md lists them)."""

    def __init__(self, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


# ---------------------------------------------------------------------------------------------------------
# Requests


def csr_subject(role: str) -> x509.Name:
    """The insurer's name for `role` as the platform names its own certificates, always with the USCC."""
    name = _names(role)
    uscc = settings.INSURER["uscc"]
    attrs = list(name)
    if not name.get_attributes_for_oid(NameOID.SERIAL_NUMBER):
        attrs.append(x509.NameAttribute(NameOID.SERIAL_NUMBER, uscc))
    if not name.get_attributes_for_oid(NameOID.ORGANIZATION_IDENTIFIER):
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_IDENTIFIER, f"NTRCN-{uscc}"))
    return x509.Name(attrs)


def _requested_extensions(role: str) -> asn1_x509.Extensions:
    if role == Role.CUSTOMER_CA:
        items = [
            ("basic_constraints", True, {"ca": True, "path_len_constraint": 0}),
            ("key_usage", True, {"key_cert_sign", "crl_sign"}),
        ]
    else:
        items = [
            ("basic_constraints", True, {"ca": False}),
            ("key_usage", True, {"digital_signature", "non_repudiation"}),
        ]
        if role == Role.TSA:
            # RFC 3161 2.3: the TSA's certificate has exactly this one extended key usage, critical.
            items.append(("extended_key_usage", True, ["time_stamping"]))
    return asn1_x509.Extensions(
        [
            asn1_x509.Extension({"extn_id": oid, "critical": critical, "extn_value": value})
            for oid, critical, value in items
        ]
    )


def _check_request(role: str, store: str, algorithm: str) -> str:
    if role not in ROLES:
        raise LicensedCaError(
            "licensed_role_unknown", f"role must be one of {', '.join(ROLES)}, not {role!r}"
        )
    if algorithm == "sm2":
        raise LicensedCaError(
            "licensed_algorithm_unsupported",
            "SM2 keys and certificate requests come with the SM2 signing track (documents signed with "
            "SM2/SM3); until it lands, request an RSA certificate (--algorithm rsa)",
        )
    if algorithm not in ALGORITHMS:
        raise LicensedCaError("licensed_algorithm_unsupported", f"algorithm must be rsa, not {algorithm!r}")
    if store not in KEY_STORES:
        raise LicensedCaError(
            "licensed_key_store_unsupported", f"key store must be database, files or pkcs11, not {store!r}"
        )
    resolved = KEY_STORES[store]
    if resolved == KeyStore.PKCS11 and role not in keystore.PKCS11_ROLES:
        raise LicensedCaError(
            "licensed_key_store_unsupported",
            f"the {role} key signs in memory (timestamps, event certificates, CRLs): keep it in the "
            "database or files key store; only the seal key can live in a PKCS#11 token",
        )
    return resolved


def create_request(
    role: str,
    *,
    key_store: str | None = None,
    algorithm: str = "rsa",
    bits: int = 2048,
    actor: str = "system",
) -> PendingKey:
    """A new key pair for `role` in `key_store` (default settings.SIGNING_KEYSTORE), and its PKCS#10."""
    from epolicy.audit.services import audit_record

    store = _check_request(role, key_store or settings.SIGNING_KEYSTORE, algorithm)
    if bits < 2048:
        raise LicensedCaError("licensed_key_too_small", "RSA keys for a licensed CA have at least 2048 bits")
    new = keystore.generate_key(role, rsa_bits=bits, store=store)
    subject = csr_subject(role)
    spki = new.public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    info = asn1_csr.CertificationRequestInfo(
        {
            "version": "v1",
            "subject": asn1_x509.Name.load(subject.public_bytes()),
            "subject_pk_info": asn1_keys.PublicKeyInfo.load(spki),
            "attributes": [{"type": "extension_request", "values": [_requested_extensions(role)]}],
        }
    )
    signature = keystore.sign_with(new, info.dump())
    request = asn1_csr.CertificationRequest(
        {
            "certification_request_info": info,
            "signature_algorithm": {"algorithm": "sha256_rsa"},
            "signature": signature,
        }
    )
    parsed = x509.load_der_x509_csr(request.dump())
    if not parsed.is_signature_valid:  # a token that signed with another key, say
        raise LicensedCaError("licensed_request_invalid", "the request's signature does not verify")
    key_hash = hashlib.sha256(spki).hexdigest()
    where = keystore.persist_key(new, role=role, fingerprint=key_hash, certificate_der=None)
    with transaction.atomic():
        pending = PendingKey.objects.create(
            role=role,
            algorithm=algorithm,
            key_store=where["key_store"],
            key_ref=where["key_ref"],
            private_key=where["private_key"],
            public_key=spki,
            public_key_sha256=key_hash,
            subject=subject.rfc4514_string(),
            csr_pem=parsed.public_bytes(serialization.Encoding.PEM).decode("ascii"),
        )
        audit_record(
            action="pki.certificate_requested",
            actor=actor,
            subject_type="pending_key",
            subject_id=str(pending.pk),
            data={"role": role, "key_store": pending.key_store, "public_key_sha256": key_hash},
        )
    return pending


# ---------------------------------------------------------------------------------------------------------
# Importing what the CA returns


@dataclass
class ImportResult:
    credential: SigningCredential
    previous: SigningCredential | None
    chain: list[x509.Certificate]
    crls: list[CertificateRevocationList] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def read_certificates(data: bytes) -> list[x509.Certificate]:
    """Certificates from a PEM bundle, one DER certificate, or a PKCS#7 (.p7b) bundle, PEM or DER."""
    stripped = data.lstrip()
    try:
        if stripped.startswith(b"-----BEGIN PKCS7") or b"-----BEGIN PKCS7" in stripped:
            return pkcs7.load_pem_pkcs7_certificates(stripped)
        if stripped.startswith(b"-----"):
            return x509.load_pem_x509_certificates(stripped)
        try:
            return [x509.load_der_x509_certificate(stripped)]
        except ValueError:
            return pkcs7.load_der_pkcs7_certificates(stripped)
    except ValueError as exc:
        raise LicensedCaError("licensed_unreadable", f"no certificate could be read: {exc}") from exc


def _spki(cert: x509.Certificate) -> bytes:
    return cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _external_ca_certificates() -> list[x509.Certificate]:
    return [
        x509.load_der_x509_certificate(bytes(der))
        for der in SigningCredential.objects.filter(role__in=EXTERNAL_CA_ROLES).values_list(
            "certificate", flat=True
        )
    ]


def build_chain(leaf: x509.Certificate, pool: Iterable[x509.Certificate]) -> list[x509.Certificate]:
    """The issuers of `leaf` up to a self-signed root, nearest first; LicensedCaError if it breaks off."""
    candidates = [c for c in pool if c != leaf]
    chain: list[x509.Certificate] = []
    current = leaf
    for _ in range(_MAX_CHAIN):
        if current.issuer == current.subject and _issued_by(current, current):
            if current is leaf:
                raise LicensedCaError("licensed_chain_incomplete", "the certificate is self-signed")
            return chain
        issuer = next((c for c in candidates if c.subject == current.issuer and _issued_by(current, c)), None)
        if issuer is None:
            raise LicensedCaError(
                "licensed_chain_incomplete",
                f"no certificate in the file (or trusted before) issued {current.subject.rfc4514_string()}: "
                "the chain does not reach a root; import the file with the CA's whole chain",
            )
        chain.append(issuer)
        current = issuer
    raise LicensedCaError("licensed_chain_incomplete", "the chain is longer than a CA's chain can be")


def _extension(cert: x509.Certificate, cls: type[x509.ExtensionType]) -> x509.Extension | None:
    try:
        return cert.extensions.get_extension_for_class(cls)
    except x509.ExtensionNotFound:
        return None


def _check_validity(certs: Sequence[x509.Certificate], now: dt.datetime) -> None:
    for cert in certs:
        what = cert.subject.rfc4514_string()
        if now < cert.not_valid_before_utc:
            raise LicensedCaError(
                "licensed_not_yet_valid",
                f"{what} is valid only from {cert.not_valid_before_utc:%Y-%m-%d %H:%M} UTC",
            )
        if now >= cert.not_valid_after_utc:
            raise LicensedCaError(
                "licensed_expired", f"{what} expired on {cert.not_valid_after_utc:%Y-%m-%d %H:%M} UTC"
            )


def _check_ca(cert: x509.Certificate) -> None:
    constraints = _extension(cert, x509.BasicConstraints)
    usage = _extension(cert, x509.KeyUsage)
    if constraints is None or not constraints.value.ca:
        raise LicensedCaError(
            "licensed_chain_invalid", f"{cert.subject.rfc4514_string()} in the chain is not a CA certificate"
        )
    if usage is not None and not usage.value.key_cert_sign:
        raise LicensedCaError(
            "licensed_chain_invalid", f"{cert.subject.rfc4514_string()} may not sign certificates (keyUsage)"
        )


def _check_usage(role: str, cert: x509.Certificate) -> None:
    constraints = _extension(cert, x509.BasicConstraints)
    usage = _extension(cert, x509.KeyUsage)
    eku = _extension(cert, x509.ExtendedKeyUsage)
    is_ca = constraints is not None and constraints.value.ca
    if role == Role.CUSTOMER_CA:
        if not is_ca:
            raise LicensedCaError(
                "licensed_key_usage", "the customer CA's certificate must be a CA certificate"
            )
        if usage is None or not (usage.value.key_cert_sign and usage.value.crl_sign):
            raise LicensedCaError(
                "licensed_key_usage", "the customer CA's certificate must allow keyCertSign and cRLSign"
            )
        if constraints is not None and constraints.value.path_length not in (None, 0):
            logger.info("customer CA certificate allows a path length of %s", constraints.value.path_length)
        return
    if is_ca:
        raise LicensedCaError("licensed_key_usage", f"a {role} certificate must not be a CA certificate")
    if usage is None or not (usage.value.digital_signature or usage.value.content_commitment):
        raise LicensedCaError(
            "licensed_key_usage", f"the {role} certificate must allow digitalSignature or nonRepudiation"
        )
    if role == Role.TSA:
        if eku is None or list(eku.value) != [ExtendedKeyUsageOID.TIME_STAMPING] or not eku.critical:
            raise LicensedCaError(
                "licensed_key_usage",
                "a TSA certificate must have extendedKeyUsage timeStamping only, marked critical (RFC 3161)",
            )
    elif eku is not None and eku.critical and ExtendedKeyUsageOID.TIME_STAMPING in eku.value:
        raise LicensedCaError(
            "licensed_key_usage", "a seal certificate must not be a timestamping certificate"
        )


def _matching_pending(certs: list[x509.Certificate], role: str) -> tuple[x509.Certificate, PendingKey]:
    by_key = {
        bytes(p.public_key): p
        for p in PendingKey.objects.filter(role=role, status=PendingKey.Status.PENDING).order_by(
            "-created_at"
        )
    }
    for cert in certs:
        pending = by_key.get(_spki(cert))
        if pending is not None:
            return cert, pending
    if not by_key:
        raise LicensedCaError(
            "licensed_no_request",
            f"no pending request for the {role}: run `epolicy pki_csr --role {role}` first",
        )
    raise LicensedCaError(
        "licensed_key_mismatch",
        f"no certificate in the file is for the key of a pending {role} request (public keys differ): "
        "the CA answered another request, or the file is not the one the CA returned",
    )


def import_certificate(
    role: str,
    data: bytes,
    *,
    crl_files: Sequence[bytes] = (),
    crl_url: str = "",
    ocsp_url: str = "",
    fetch: bool = True,
    actor: str = "system",
    outside_key: bool = False,
) -> ImportResult:
    """Check the CA's answer for a pending `role` key and switch to it (see the module's docstring).

    With `outside_key` (customer CA only), `data` is the chain of an outside CA that issues the event
    certificates itself (`epolicy.signing.event_ca`): its certificate becomes the active customer CA
    without a key (key store `external`), so the applicant's signature embeds its chain.
    """
    from epolicy.audit.services import audit_record

    from . import external as crl

    if role not in ROLES:
        raise LicensedCaError(
            "licensed_role_unknown", f"role must be one of {', '.join(ROLES)}, not {role!r}"
        )
    certs = read_certificates(data)
    if not certs:
        raise LicensedCaError("licensed_unreadable", "the file holds no certificate")
    pending: PendingKey | None
    if outside_key:
        if role != Role.CUSTOMER_CA:
            raise LicensedCaError(
                "licensed_role_unknown", "only the customer CA can be an outside CA's (its key stays there)"
            )
        leaf, pending = _outside_leaf(certs), None
    else:
        leaf, pending = _matching_pending(certs, role)
    if SigningCredential.objects.filter(fingerprint_sha256=fingerprint(leaf)).exists():
        raise LicensedCaError("licensed_already_imported", "this certificate is already in use")
    chain = build_chain(leaf, [*certs, *_external_ca_certificates()])
    now = clock.now()
    _check_validity([leaf, *chain], now)
    for ca in chain:
        _check_ca(ca)
    _check_usage(role, leaf)

    # Revocation: the CRL of every CA in the chain is needed later by the verifier (it requires
    # revocation data for each certificate below the root), so it is obtained now or the import stops.
    given = [crl.parse_crl(d) for d in crl_files]
    warnings: list[str] = []
    crls: list[tuple[x509.Certificate, x509.CertificateRevocationList, str]] = []
    for cert, issuer in zip([leaf, *chain[:-1]], chain, strict=True):
        override = crl_url if cert is leaf else ""
        found, url = crl.external_crl_for(cert, issuer, given=given, url=override, fetch=fetch)
        if found is None:
            raise LicensedCaError(
                "licensed_crl_unavailable",
                f"no current CRL of {issuer.subject.rfc4514_string()} (the verifier needs it for every "
                f"certificate below the root): {url or 'the certificate names no CRL distribution point'}; "
                "give it with --crl FILE or its address with --crl-url",
            )
        entry = found.get_revoked_certificate_by_serial_number(cert.serial_number)
        if entry is not None:
            raise LicensedCaError(
                "licensed_revoked",
                f"{cert.subject.rfc4514_string()} was revoked on "
                f"{entry.revocation_date_utc:%Y-%m-%d %H:%M} UTC",
            )
        crls.append((issuer, found, url))
        responder = (ocsp_url if cert is leaf else "") or crl.ocsp_url_of(cert)
        if responder and fetch:
            try:
                status = crl.ocsp_status(cert, issuer, responder)
            except crl.ExternalRevocationError as exc:
                warnings.append(f"OCSP {responder} not asked: {exc}")
            else:
                if status is not None:
                    raise LicensedCaError(
                        "licensed_revoked",
                        f"{cert.subject.rfc4514_string()} was revoked on {status.revoked_at:%Y-%m-%d %H:%M} "
                        f"UTC (OCSP {responder})",
                    )

    with transaction.atomic():
        locked: PendingKey | None = None
        if pending is not None:
            locked = PendingKey.objects.select_for_update().get(pk=pending.pk)
            if locked.status != PendingKey.Status.PENDING:
                raise LicensedCaError("licensed_no_request", "the pending key was used or discarded")
        ca_rows = {fingerprint(ca): _trust_ca(ca) for ca in chain}
        for ca, parsed, url in crls:
            row = ca_rows[fingerprint(ca)]
            if url and not row.crl_url:
                SigningCredential.objects.filter(pk=row.pk).update(crl_url=url)
            crl.store_external_crl(row, parsed)
        leaf_issuer = ca_rows[fingerprint(chain[0])]
        if ocsp_url:
            SigningCredential.objects.filter(pk=leaf_issuer.pk).update(ocsp_url=ocsp_url)
        previous = (
            SigningCredential.objects.select_for_update()
            .filter(role=role, active=True)
            .order_by("-created_at", "-id")
            .first()
        )
        SigningCredential.objects.filter(role=role, active=True).update(active=False, deactivated_at=now)
        names = leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        credential = SigningCredential.objects.create(
            role=role,
            label=str(names[0].value) if names else leaf.subject.rfc4514_string(),
            certificate=leaf.public_bytes(serialization.Encoding.DER),
            private_key=bytes(locked.private_key) if locked is not None else b"",
            key_store=locked.key_store if locked is not None else KeyStore.EXTERNAL,
            key_ref=locked.key_ref if locked is not None else "",
            subject=leaf.subject.rfc4514_string(),
            serial=serial_hex(leaf),
            fingerprint_sha256=fingerprint(leaf),
            not_before=leaf.not_valid_before_utc,
            not_after=leaf.not_valid_after_utc,
            active=True,
            external_issuer=chain[0].subject.rfc4514_string(),
        )
        if locked is not None:
            PendingKey.objects.filter(pk=locked.pk).update(
                status=PendingKey.Status.USED, used_at=now, credential=credential, private_key=b""
            )
        audit_record(
            action="pki.credential_rotated",
            actor=actor,
            subject_type="signing_credential",
            subject_id=credential.serial,
            data={
                "role": role,
                "previous_serial": previous.serial if previous is not None else None,
                "key_store": credential.key_store,
                "issuer": credential.external_issuer,
                "root": chain[-1].subject.rfc4514_string(),
                "source": "licensed_ca",
            },
        )
    if credential.key_store == KeyStore.PKCS11:
        # Once the switch is recorded (the token is no part of the transaction): shown next to the key.
        _certificate_to_token(credential.key_ref, bytes(credential.certificate))
    clear_cache()
    stored = list(CertificateRevocationList.objects.filter(issuer__in=ca_rows.values()).order_by("id"))
    return ImportResult(credential=credential, previous=previous, chain=chain, crls=stored, warnings=warnings)


def _outside_leaf(certs: list[x509.Certificate]) -> x509.Certificate:
    """The certificate of the bundle that issued none of the others (the outside event CA's own)."""
    for cert in certs:
        if cert.issuer == cert.subject:
            continue
        if not any(o is not cert and o.issuer == cert.subject and _issued_by(o, cert) for o in certs):
            return cert
    raise LicensedCaError("licensed_chain_incomplete", "the file holds no CA certificate below a root")


def _certificate_to_token(label: str, der: bytes) -> None:
    try:
        keystore.pkcs11_store_certificate(label, der)
    except Exception:  # the key signs without it; the certificate is only shown next to the key
        logger.exception("certificate not stored in the token next to key %s", label)


def _trust_ca(cert: x509.Certificate) -> SigningCredential:
    """The credential row of a licensed CA's certificate (made once): trusted for verification, no key."""
    fp = fingerprint(cert)
    existing = SigningCredential.objects.filter(fingerprint_sha256=fp).first()
    if existing is not None:
        if existing.role == Role.TSA_ROOT:
            # Trusted for timestamps until now; a credential it certified makes it a root for signers too.
            SigningCredential.objects.filter(pk=existing.pk).update(
                role=Role.CA_ROOT, key_store=KeyStore.EXTERNAL
            )
            existing.refresh_from_db()
        return existing
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    self_signed = cert.issuer == cert.subject
    return SigningCredential.objects.create(
        role=Role.CA_ROOT if self_signed else Role.CA_INTERMEDIATE,
        label=str(names[0].value) if names else cert.subject.rfc4514_string(),
        certificate=cert.public_bytes(serialization.Encoding.DER),
        key_store=KeyStore.EXTERNAL,
        subject=cert.subject.rfc4514_string(),
        serial=serial_hex(cert),
        fingerprint_sha256=fp,
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        active=True,
        external_issuer="" if self_signed else cert.issuer.rfc4514_string(),
    )


def pending_requests(role: str | None = None) -> list[PendingKey]:
    rows = PendingKey.objects.filter(status=PendingKey.Status.PENDING)
    if role is not None:
        rows = rows.filter(role=role)
    return list(rows.order_by("-created_at", "-id"))


def discard_request(pending: PendingKey, *, actor: str = "system") -> None:
    """Give up a pending request; a database key is erased (a file or token key is left to the operator)."""
    from epolicy.audit.services import audit_record

    with transaction.atomic():
        PendingKey.objects.filter(pk=pending.pk, status=PendingKey.Status.PENDING).update(
            status=PendingKey.Status.DISCARDED, private_key=b""
        )
        audit_record(
            action="pki.certificate_request_discarded",
            actor=actor,
            subject_type="pending_key",
            subject_id=str(pending.pk),
            data={"role": pending.role},
        )
