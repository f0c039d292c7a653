"""The platform's development PKI: root CA, issuing CA, insurer seal, customer event-certificate CA, TSA.

    root CA (20 y) ─┬─ issuing CA (10 y) ── insurer seal (3 y, O/CN = insurer, serialNumber = USCC)
                    ├─ customer CA (10 y) ── event certificates (1 day, one per consumer signing)
                    └─ TSA (10 y, extendedKeyUsage timeStamping, critical)

Certificates are kept in `SigningCredential` rows, keys in the key store each credential names (the
database, encrypted files or a PKCS#11 token: see `keystore`); CRLs are in `crl`. `pki_rotate` replaces
a credential without breaking old documents (old certificates stay trusted); see also `lifecycle`.
Every certificate below a root names the URLs of its issuer's CRL and certificate (`repository`).

Loading a key (PEM decryption plus RSA key checks) costs tens of milliseconds, so loaded credentials
are cached per process by certificate fingerprint; a new credential (rotation) has a new fingerprint
and so is picked up by the next signature.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from django.conf import settings
from django.db import transaction

from epolicy.common import clock
from epolicy.common.errors import ApplicationError

from . import keystore, repository
from .models import SigningCredential

Role = SigningCredential.Role
PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey

# Event certificates are made for every consumer signature, so their key must be cheap to generate:
# an RSA-2048 key takes ~40 ms (and varies a lot), a P-256 key ~0.03 ms. The price is that pyHanko
# declares the ISO 32002 extension and writes such files as PDF 2.0; pdfsig and pyHanko accept them.
EVENT_KEY_TYPE = "ec"
EVENT_CERT_VALIDITY = dt.timedelta(days=1)
# Allowance for clocks of other machines that are a little behind ours.
BACKDATE = dt.timedelta(minutes=5)

# A resident ID number (18 or old 15 characters) passed by mistake instead of its keyed hash.
_ID_NUMBER = re.compile(r"[0-9]{17}[0-9Xx]|[0-9]{15}")
_YEAR = dt.timedelta(days=365)
_ROLE_ORDER = (Role.ROOT_CA, Role.ISSUING_CA, Role.SEAL, Role.CUSTOMER_CA, Role.TSA)
# The roles the platform makes keys for (external TSA roots are only trusted, see `trust_tsa_root`).
ROTATABLE_ROLES: tuple[str, ...] = tuple(str(r) for r in _ROLE_ORDER)
_PARENT: dict[str, str] = {
    Role.ISSUING_CA: Role.ROOT_CA,
    Role.SEAL: Role.ISSUING_CA,
    Role.CUSTOMER_CA: Role.ROOT_CA,
    Role.TSA: Role.ROOT_CA,
}
_RSA_BITS: dict[str, int] = {
    Role.ROOT_CA: 3072,
    Role.ISSUING_CA: 3072,
    Role.SEAL: 2048,
    Role.CUSTOMER_CA: 2048,
    Role.TSA: 2048,
}
_VALIDITY: dict[str, dt.timedelta] = {
    Role.ROOT_CA: 20 * _YEAR,
    Role.ISSUING_CA: 10 * _YEAR,
    Role.SEAL: 3 * _YEAR,
    Role.CUSTOMER_CA: 10 * _YEAR,
    Role.TSA: 10 * _YEAR,
}


@dataclass(frozen=True)
class LoadedCredential:
    """A credential ready to sign with: parsed certificate, key object and the chain up to the root.

    `key` is None when the key lives in a PKCS#11 token (`key_store` "pkcs11", `key_ref` its label):
    such a credential signs through `keystore.signer_for_credential`.
    """

    role: str
    fingerprint: str
    certificate: x509.Certificate
    key: PrivateKey | None
    chain: tuple[x509.Certificate, ...]  # issuers, nearest first, ending with the root
    key_store: str = SigningCredential.KeyStore.DATABASE
    key_ref: str = ""

    def require_key(self) -> PrivateKey:
        """The key object; KeyUnavailable when it lives in a token (sign through the keystore instead)."""
        if self.key is None:
            raise keystore.KeyUnavailable(f"the {self.role} key is in a PKCS#11 token, not in memory")
        return self.key

    # asn1crypto copies of the certificates for pyHanko, parsed once: a freshly loaded asn1crypto
    # certificate is re-serialised field by field whenever it is embedded, which costs milliseconds.
    @cached_property
    def cert_asn1(self) -> asn1_x509.Certificate:
        return _warm(to_asn1(self.certificate))

    @cached_property
    def key_asn1(self) -> asn1_keys.PrivateKeyInfo:
        return key_to_asn1(self.require_key())

    @cached_property
    def chain_asn1(self) -> tuple[asn1_x509.Certificate, ...]:
        return tuple(_warm(to_asn1(c)) for c in self.chain)


# ---------------------------------------------------------------------------------------------------------
# Small helpers


def fingerprint(cert: x509.Certificate) -> str:
    return cert.fingerprint(hashes.SHA256()).hex()


def serial_hex(cert: x509.Certificate) -> str:
    return format(cert.serial_number, "x")


def _warm(cert: asn1_x509.Certificate) -> asn1_x509.Certificate:
    cert.native  # noqa: B018 - parse every field now, once
    return cert


def to_asn1(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


def key_to_asn1(key: PrivateKey) -> asn1_keys.PrivateKeyInfo:
    der = key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return asn1_keys.PrivateKeyInfo.load(der)


def _fits(value: str, limit: int = 64) -> bool:
    # X.520 bounds CN and O at 64 characters; cryptography checks 64 UTF-8 bytes (21 Chinese characters)
    # and warns on every parse of a certificate beyond that, so names are kept within 64 bytes.
    return 1 <= len(value.encode("utf-8")) <= limit


def _clip(value: str, limit: int = 64) -> str:
    while not _fits(value, limit) and value:
        value = value[:-1]
    return value


def _attr(oid: x509.ObjectIdentifier, value: str) -> x509.NameAttribute:
    return x509.NameAttribute(oid, _clip(value))


def _names(role: str) -> x509.Name:
    insurer = settings.INSURER
    name = insurer["name"]
    uscc = insurer["uscc"]
    base = [x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"), _attr(NameOID.ORGANIZATION_NAME, name)]
    short = insurer["short_name"]
    seal_cn = f"{name} 电子保单签章"
    common_names: dict[str, str] = {
        Role.ROOT_CA: f"{short} 电子保单根 CA",
        Role.ISSUING_CA: f"{short} 电子签章 CA",
        # The full name when it fits the 64 bytes, else the short name (the full one is in O).
        Role.SEAL: seal_cn if _fits(seal_cn) else f"{short} 电子保单签章",
        Role.CUSTOMER_CA: f"{short} 投保人事件证书 CA",
        Role.TSA: f"{short} 时间戳服务",
    }
    attrs = [*base, _attr(NameOID.COMMON_NAME, common_names[role])]
    if role == Role.SEAL:
        attrs += [
            x509.NameAttribute(NameOID.SERIAL_NUMBER, uscc),
            # ETSI EN 319 412-1 form: national trade register (NTR) of China, then the USCC.
            x509.NameAttribute(NameOID.ORGANIZATION_IDENTIFIER, f"NTRCN-{uscc}"),
        ]
    return x509.Name(attrs)


def _build_certificate(
    *,
    subject: x509.Name,
    public_key: rsa.RSAPublicKey | ec.EllipticCurvePublicKey,
    issuer: x509.Certificate | None,
    issuer_key: PrivateKey,
    not_before: dt.datetime,
    not_after: dt.datetime,
    ca: bool,
    path_length: int | None = None,
    timestamping: bool = False,
    issuer_role: str | None = None,
) -> x509.Certificate:
    """A certificate signed by `issuer_key` (self-signed when `issuer` is None).

    With `issuer_role` (the role of the issuing CA of ours), the certificate names where that CA
    publishes its CRL and its certificate (see `repository`); self-signed roots name neither.
    """
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.subject if issuer is not None else subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=path_length if ca else None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )
    if issuer is not None:
        ski = issuer.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False
        )
        if issuer_role is not None:
            for pointer in repository.issuer_pointers(issuer_role, issuer):
                builder = builder.add_extension(pointer, critical=False)
    if ca:
        usage = x509.KeyUsage(
            digital_signature=False,
            content_commitment=False,
            key_encipherment=False,
            data_encipherment=False,
            key_agreement=False,
            key_cert_sign=True,
            crl_sign=True,
            encipher_only=False,
            decipher_only=False,
        )
    else:
        usage = x509.KeyUsage(
            digital_signature=True,
            content_commitment=True,  # nonRepudiation
            key_encipherment=False,
            data_encipherment=False,
            key_agreement=False,
            key_cert_sign=False,
            crl_sign=False,
            encipher_only=False,
            decipher_only=False,
        )
    builder = builder.add_extension(usage, critical=True)
    if timestamping:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True
        )
    return builder.sign(issuer_key, hashes.SHA256())


def _store(role: str, cert: x509.Certificate, new_key: keystore.NewKey) -> SigningCredential:
    fp = fingerprint(cert)
    der = cert.public_bytes(serialization.Encoding.DER)
    where = keystore.persist_key(new_key, role=role, fingerprint=fp, certificate_der=der)
    return SigningCredential.objects.create(
        role=role,
        label=str(cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value),
        certificate=der,
        subject=cert.subject.rfc4514_string(),
        serial=serial_hex(cert),
        fingerprint_sha256=fp,
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        active=True,
        **where,
    )


# ---------------------------------------------------------------------------------------------------------
# Bootstrap


def pki_init(*, force: bool = False) -> dict[str, str]:
    """Create the credentials that are missing (all of them with force=True); returns role -> subject created.

    A CA that is (re)created takes its descendants with it, so a chain never mixes generations. Old
    credentials are only deactivated, never deleted: documents signed with them must still verify.
    New keys go to the key store of settings.SIGNING_KEYSTORE (see `keystore`). Every CA then has a
    current CRL (see `crl`).
    """
    from . import crl

    with transaction.atomic():
        created = _renew(lambda role, current: force or current is None)
        crl.ensure_fresh_crls()
    clear_cache()
    return created


def pki_rotate(role: str, *, actor: str = "system") -> dict[str, str]:
    """Replace the active credential of `role` (a CA with its descendants) by a new key and certificate.

    The old credential is deactivated but kept: its certificate stays trusted for verifying documents
    signed before the rotation. Returns role -> subject of what was created.
    """
    from epolicy.audit.services import audit_record

    if role not in _ROLE_ORDER:
        raise ValueError(f"unknown role {role!r}; one of {', '.join(_ROLE_ORDER)}")
    from . import crl

    with transaction.atomic():
        old: dict[str, SigningCredential | None] = {r: SigningCredential.active_for(r) for r in _ROLE_ORDER}
        created = _renew(lambda r, current: r == role or current is None)
        crl.ensure_fresh_crls()
        for created_role in created:
            new = SigningCredential.active_for(created_role)
            previous = old[created_role]
            audit_record(
                action="pki.credential_rotated",
                actor=actor,
                subject_type="signing_credential",
                subject_id=new.serial if new is not None else "",
                data={
                    "role": created_role,
                    "previous_serial": previous.serial if previous is not None else None,
                    "key_store": new.key_store if new is not None else None,
                },
            )
    clear_cache()
    return created


def _renew(wanted: Callable[[str, SigningCredential | None], bool]) -> dict[str, str]:
    created: dict[str, str] = {}
    with transaction.atomic():
        current: dict[str, SigningCredential | None] = {
            r: SigningCredential.objects.select_for_update()
            .filter(role=r, active=True)
            .order_by("-created_at", "-id")
            .first()
            for r in _ROLE_ORDER
        }
        for role in _ROLE_ORDER:
            parent_role = _PARENT.get(role)
            renew = wanted(role, current[role]) or (parent_role is not None and parent_role in created)
            if not renew:
                continue
            now = clock.now()
            new_key = keystore.generate_key(role, rsa_bits=_RSA_BITS[role])
            issuer_cert: x509.Certificate | None
            issuer_key: PrivateKey
            if parent_role is None:
                assert new_key.private_key is not None  # CAs never live in the token
                issuer_cert, issuer_key = None, new_key.private_key
            else:
                parent = current[parent_role]
                assert parent is not None  # created earlier in this loop when it was missing
                issuer_cert, issuer_key = _certificate_of(parent), _load_key(parent)
            cert = _build_certificate(
                subject=_names(role),
                public_key=new_key.public_key,
                issuer=issuer_cert,
                issuer_key=issuer_key,
                not_before=now - BACKDATE,
                not_after=now + _VALIDITY[role],
                ca=role in (Role.ROOT_CA, Role.ISSUING_CA, Role.CUSTOMER_CA),
                path_length=None if role == Role.ROOT_CA else 0,
                timestamping=role == Role.TSA,
                issuer_role=parent_role,
            )
            SigningCredential.objects.filter(role=role, active=True).update(active=False, deactivated_at=now)
            stored = current[role] = _store(role, cert, new_key)
            created[role] = stored.subject
    return created


# ---------------------------------------------------------------------------------------------------------
# Loading (cached per process by fingerprint)

_CACHE_LIMIT = 32
_cache: dict[str, LoadedCredential] = {}
_cache_lock = threading.Lock()


def _certificate_of(cred: SigningCredential) -> x509.Certificate:
    return x509.load_der_x509_certificate(bytes(cred.certificate))


_key_cache: dict[str, PrivateKey] = {}


def _load_key(cred: SigningCredential) -> PrivateKey:
    """The key object of a CA (or other in-memory) credential; KeyUnavailable if it is in a token.

    Cached per process by fingerprint, like loaded credentials: CRLs are issued by every CA,
    often, and decrypting and checking an RSA-3072 key costs around 100 ms.
    """
    cached = _key_cache.get(cred.fingerprint_sha256)
    if cached is not None:
        return cached
    key = keystore.load_private_key(cred)
    if key is None:
        raise keystore.KeyUnavailable(f"the key of credential {cred.pk} is in a PKCS#11 token")
    with _cache_lock:
        if len(_key_cache) >= _CACHE_LIMIT:
            _key_cache.clear()
        _key_cache[cred.fingerprint_sha256] = key
    return key


def _issuer_chain(cert: x509.Certificate) -> tuple[x509.Certificate, ...]:
    """The CA certificates above `cert`, nearest first, found among the stored CA credentials."""
    cas = [
        x509.load_der_x509_certificate(bytes(der))
        for der in SigningCredential.objects.filter(
            role__in=(Role.ROOT_CA, Role.ISSUING_CA, Role.CUSTOMER_CA)
        ).values_list("certificate", flat=True)
    ]
    chain: list[x509.Certificate] = []
    current = cert
    for _ in range(5):
        if current.issuer == current.subject:
            break
        issuer = next((ca for ca in cas if ca.subject == current.issuer and _issued_by(current, ca)), None)
        if issuer is None:
            break
        chain.append(issuer)
        current = issuer
    return tuple(chain)


def _issued_by(cert: x509.Certificate, ca: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(ca)
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


def load_credential(role: str) -> LoadedCredential:
    """The active credential of a role, ready to sign; ApplicationError('pki_missing') if there is none."""
    return load_credentials(role)[role]


def load_credentials(*roles: str) -> dict[str, LoadedCredential]:
    """The active credentials of several roles with one query (a signature needs its signer's and the TSA's).

    Which credential is active is read from the database on every call, so a rotation or revocation
    made by another process takes effect at once; what is cached is the loaded certificate and key,
    by fingerprint. ApplicationError('pki_missing') if a role has no active credential.
    """
    active: dict[str, tuple[int, str]] = {}
    rows = (
        SigningCredential.objects.filter(role__in=roles, active=True)
        .order_by("-created_at", "-id")
        .values_list("role", "pk", "fingerprint_sha256")
    )
    for role, pk, fp in rows:
        active.setdefault(role, (pk, fp))
    if any(role not in active for role in roles):
        raise ApplicationError("pki_missing")
    return {role: _loaded(role, *active[role]) for role in roles}


def _loaded(role: str, pk: int, fp: str) -> LoadedCredential:
    cached = _cache.get(fp)
    if cached is not None:
        return cached
    cred = SigningCredential.objects.get(pk=pk)
    cert = _certificate_of(cred)
    loaded = LoadedCredential(
        role=role,
        fingerprint=fp,
        certificate=cert,
        key=keystore.load_private_key(cred),
        chain=_issuer_chain(cert),
        key_store=cred.key_store,
        key_ref=cred.key_ref,
    )
    with _cache_lock:
        if len(_cache) >= _CACHE_LIMIT:
            _cache.clear()
        _cache[fp] = loaded
    return loaded


def clear_cache() -> None:
    with _cache_lock:
        _cache.clear()
        _key_cache.clear()
    keystore.clear_signers()


# ---------------------------------------------------------------------------------------------------------
# Event certificates and trust


def issue_event_certificate(*, name: str, subject_serial: str) -> tuple[x509.Certificate, PrivateKey]:
    """A fresh key and a one-day certificate for one consumer signature, issued by the customer CA.

    `subject_serial` must be a keyed hash of the person's ID number, never the number itself: the
    certificate is embedded in the signed PDF for anyone to read.
    """
    if not name.strip():
        raise ValueError("event certificate needs the signer's name")
    if not subject_serial or len(subject_serial) > 64 or not subject_serial.isascii():
        raise ValueError("subject_serial must be 1-64 ASCII characters (a keyed hash of the ID number)")
    if _ID_NUMBER.fullmatch(subject_serial):
        raise ValueError("subject_serial looks like an ID number: pass a keyed hash of it instead")
    ca = load_credential(Role.CUSTOMER_CA)
    key: PrivateKey
    if EVENT_KEY_TYPE == "ec":
        key = ec.generate_private_key(ec.SECP256R1())
    else:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = clock.now()
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            _attr(NameOID.COMMON_NAME, name.strip()),
            x509.NameAttribute(NameOID.SERIAL_NUMBER, subject_serial),
        ]
    )
    cert = _build_certificate(
        subject=subject,
        public_key=key.public_key(),
        issuer=ca.certificate,
        issuer_key=ca.require_key(),
        not_before=now - BACKDATE,
        not_after=now + EVENT_CERT_VALIDITY,
        ca=False,
        issuer_role=Role.CUSTOMER_CA,
    )
    return cert, key


def customer_ca_certificates() -> list[x509.Certificate]:
    """Every customer CA the platform has had (active or not): they identify applicant signatures."""
    return _certs_of_role(Role.CUSTOMER_CA)


def seal_fingerprints() -> frozenset[str]:
    """Fingerprints of every insurer seal certificate the platform has had."""
    return frozenset(
        SigningCredential.objects.filter(role=Role.SEAL).values_list("fingerprint_sha256", flat=True)
    )


def trust_roots() -> list[x509.Certificate]:
    """Roots the verifier trusts: every root CA, active or not (documents from before a rotation verify)."""
    return _certs_of_role(Role.ROOT_CA)


def tsa_trust_roots() -> list[x509.Certificate]:
    """Roots of external TSAs (settings.TSA_URL), trusted for timestamps but never for signers."""
    return _certs_of_role(Role.TSA_ROOT)


def trust_tsa_root(certificate: bytes) -> SigningCredential:
    """Register the root certificate (PEM or DER) of an external TSA, so its timestamps verify."""
    cert = (
        x509.load_pem_x509_certificate(certificate)
        if certificate.lstrip().startswith(b"-----")
        else x509.load_der_x509_certificate(certificate)
    )
    try:
        constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound as exc:
        raise ValueError("not a CA certificate (no basicConstraints)") from exc
    if not constraints.ca or cert.issuer != cert.subject or not _issued_by(cert, cert):
        raise ValueError("a TSA trust root must be a self-signed CA certificate")
    existing = SigningCredential.objects.filter(fingerprint_sha256=fingerprint(cert)).first()
    if existing is not None:
        return existing
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return SigningCredential.objects.create(
        role=Role.TSA_ROOT,
        label=str(names[0].value) if names else cert.subject.rfc4514_string(),
        certificate=cert.public_bytes(serialization.Encoding.DER),
        subject=cert.subject.rfc4514_string(),
        serial=serial_hex(cert),
        fingerprint_sha256=fingerprint(cert),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        active=True,
    )


def _certs_of_role(role: str) -> list[x509.Certificate]:
    return [
        x509.load_der_x509_certificate(bytes(der))
        for der in SigningCredential.objects.filter(role=role)
        .order_by("created_at", "id")
        .values_list("certificate", flat=True)
    ]
