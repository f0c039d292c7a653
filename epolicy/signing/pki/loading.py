"""Loading credentials to sign with (`load_credential(s)`), cached per process.

Loading a key (PEM decryption plus RSA key checks) costs tens of milliseconds, so loaded credentials
are cached per process by certificate fingerprint; a new credential (rotation) has a new fingerprint
and so is picked up by the next signature.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import cached_property

from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature

from epolicy.common.errors import ApplicationError

from .. import keystore
from ..models import SigningCredential
from .certificates import PrivateKey, Role, _warm, key_to_asn1, to_asn1


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
            if self.key_store == SigningCredential.KeyStore.EXTERNAL:
                raise keystore.KeyUnavailable(f"the {self.role} key is held by an outside CA, not here")
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
            # A licensed CA's certificates above a seal, TSA or customer CA it certified, too.
            role__in=(Role.ROOT_CA, Role.ISSUING_CA, Role.CUSTOMER_CA, Role.CA_ROOT, Role.CA_INTERMEDIATE)
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
        # An outside event CA's certificate (key store "external"): its chain is used, never a key.
        key=None
        if cred.key_store == SigningCredential.KeyStore.EXTERNAL
        else keystore.load_private_key(cred),
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
