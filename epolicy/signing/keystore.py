"""Where private keys live, and the one place that turns a credential into a pyHanko signer.

Three online key stores (settings.SIGNING_KEYSTORE, chosen when a key is made; each credential
remembers its own, so a store can change without re-keying old credentials):

- ``database`` (default): encrypted PKCS#8 in the credential's row, readable by every app process.
- ``files``: encrypted PKCS#8 PEM files in settings.SIGNING_KEY_DIR (mode 0600), for a dedicated
  signing machine whose database copy must not hold keys.
- ``pkcs11``: the insurer's seal key is generated inside a PKCS#11 token (settings.PKCS11: module,
  token_label, user_pin) as a non-extractable key and signs there; an existing key can be imported
  with `import_to_pkcs11`. The development issuing and customer CAs and the TSA keep their keys in
  the database: in production the CAs belong to an external CA and the TSA is an external RFC 3161
  service.

and one that is not online at all: ``offline``, the root CA's. Its key is never in the database, a key
file or the token: `pki.offline` exports it at creation to a file encrypted with a passphrase of its
own, for offline media, and the operations that need it (signing a CA, the root's CRL) take it as an
argument for the length of one command. Loading it from here raises `OfflineKeyRequired`.

Signers are built once per process and credential and reused: loading a key and validating it costs
tens of milliseconds, opening a token session and logging in more.
"""

from __future__ import annotations

import os
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from asn1crypto import cms
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from pyhanko.sign import signers
from pyhanko.sign.attributes import CMSAttributeProvider, SigningCertificateV2Provider
from pyhanko.sign.general import SigningError, as_signing_certificate_v2, simple_cms_attribute
from pyhanko_certvalidator.registry import SimpleCertificateStore

from . import der
from .models import SigningCredential

if TYPE_CHECKING:
    from .pki import LoadedCredential

Role = SigningCredential.Role
KeyStore = SigningCredential.KeyStore
PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey

# Roles whose key goes into the token when the key store is pkcs11.
PKCS11_ROLES = frozenset({Role.SEAL})


# The environment variable commands read the offline root key's passphrase from (else they prompt).
ROOT_KEY_PASSPHRASE_ENV = "EPOLICY_ROOT_KEY_PASSPHRASE"  # noqa: S105 - a variable name, not its value


class KeyUnavailable(Exception):
    """The credential's key cannot be used from this process (missing file, token not configured...)."""


class OfflineKeyRequired(KeyUnavailable):
    """The operation needs a key the platform keeps offline (the root CA's): the operator must bring it."""

    def __init__(self, cred: SigningCredential, what: str = ""):
        self.credential = cred
        file_name = cred.key_ref or "root-ca-<key id>.p8"
        doing = f" to {what}" if what else ""
        super().__init__(
            f"the {cred.role} key (serial {cred.serial}) is kept offline and is needed{doing}: "
            f"bring its key file {file_name} and run the command again with --root-key <path to {file_name}> "
            f"(passphrase from ${ROOT_KEY_PASSPHRASE_ENV} or typed at the prompt)"
        )


# ---------------------------------------------------------------------------------------------------------
# Key generation and storage


@dataclass(frozen=True)
class NewKey:
    """A freshly generated key pair; `private_key` is None when the key lives in a token."""

    store: str
    public_key: PublicKey
    private_key: PrivateKey | None = None
    token_label: str = ""


def store_for(role: str) -> str:
    """The key store a new key of `role` goes to under the current settings (the root's is always offline)."""
    if role == Role.ROOT_CA:
        return KeyStore.OFFLINE
    store = settings.SIGNING_KEYSTORE
    if store not in KeyStore.values or store in (KeyStore.OFFLINE, KeyStore.EXTERNAL):
        raise ImproperlyConfigured(f"SIGNING_KEYSTORE must be database, files or pkcs11, not {store!r}")
    if store == KeyStore.PKCS11 and role not in PKCS11_ROLES:
        return KeyStore.DATABASE
    return store


def generate_key(role: str, *, rsa_bits: int, store: str | None = None) -> NewKey:
    """A new RSA key for `role`, made where the configured key store (or `store`) keeps it."""
    store = store or store_for(role)
    if store == KeyStore.PKCS11:
        return _pkcs11_generate(role, rsa_bits)
    key = rsa.generate_private_key(public_exponent=65537, key_size=rsa_bits)
    return NewKey(store=store, public_key=key.public_key(), private_key=key)


def persist_key(new: NewKey, *, role: str, fingerprint: str, certificate_der: bytes | None) -> dict[str, Any]:
    """Write the key to its store; returns the credential fields that say where it is.

    An offline key is not written here: `pki.offline.export_root_key` hands it to the operator. A key
    made for a certificate request (`pki.licensed`) has no certificate yet (`certificate_der` None).
    """
    if new.store in (KeyStore.OFFLINE, KeyStore.EXTERNAL):
        raise ValueError(f"a {new.store} key is not stored online")
    if new.store == KeyStore.PKCS11:
        if certificate_der is not None:
            _pkcs11_store_certificate(new.token_label, certificate_der)
        return {"key_store": KeyStore.PKCS11, "key_ref": new.token_label, "private_key": b""}
    assert new.private_key is not None
    pem = encrypt_pem(new.private_key)
    if new.store == KeyStore.FILES:
        name = f"{role}-{fingerprint[:16]}.pem"
        _write_key_file(name, pem)
        return {"key_store": KeyStore.FILES, "key_ref": name, "private_key": b""}
    return {"key_store": KeyStore.DATABASE, "key_ref": "", "private_key": pem}


def encrypt_pem(key: PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(_passphrase()),
    )


def _passphrase() -> bytes:
    return settings.SIGNING_KEY_PASSPHRASE.encode("utf-8")


def _key_dir() -> Path:
    return Path(settings.SIGNING_KEY_DIR)


def key_file_path(key_ref: str) -> Path:
    """Where the key file of a credential of the files store is (settings.SIGNING_KEY_DIR)."""
    return _key_dir() / key_ref


def _write_key_file(name: str, pem: bytes) -> None:
    directory = _key_dir()
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    # O_EXCL: a key file is never overwritten, whatever happens to the database row.
    fd = os.open(directory / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)


def _decrypt(pem: bytes, what: str) -> PrivateKey:
    key = serialization.load_pem_private_key(pem, password=_passphrase())
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise TypeError(f"unsupported key type for {what}")
    return key


def load_private_key(cred: SigningCredential) -> PrivateKey | None:
    """The key object of a credential from the database or a file; None for a key inside a token.

    OfflineKeyRequired for the root CA's key, which the platform does not have (see `pki.offline`).
    """
    if cred.key_store == KeyStore.OFFLINE:
        raise OfflineKeyRequired(cred)
    if cred.key_store == KeyStore.EXTERNAL:
        raise KeyUnavailable(
            f"credential {cred.pk} ({cred.role}) is an outside CA's: the platform has no key"
        )
    if cred.key_store == KeyStore.PKCS11:
        return None
    if cred.key_store == KeyStore.FILES:
        path = key_file_path(cred.key_ref)
        try:
            pem = path.read_bytes()
        except OSError as exc:
            raise KeyUnavailable(f"key file {path} of credential {cred.pk} cannot be read: {exc}") from exc
        return _decrypt(pem, f"credential {cred.pk}")
    if not cred.private_key:
        raise KeyUnavailable(f"credential {cred.pk} has no key in the database")
    return _decrypt(bytes(cred.private_key), f"credential {cred.pk}")


# ---------------------------------------------------------------------------------------------------------
# PKCS#11


_p11_lock = threading.Lock()
# One session per process and token: every session of an application shares the login, and a token
# session must not be used by two threads at once, so token operations go through `_p11_op_lock`.
_p11_sessions: dict[tuple[int, str, str], Any] = {}
_p11_op_lock = threading.Lock()


def _pkcs11_settings() -> dict[str, str]:
    conf = dict(settings.PKCS11)
    if not conf.get("module") or not conf.get("token_label"):
        raise KeyUnavailable("settings.PKCS11 needs 'module' and 'token_label'")
    return conf


def pkcs11_session() -> Any:
    """The process's open, logged-in read-write session on the configured token."""
    import pkcs11
    from pkcs11 import exceptions as p11_exc

    conf = _pkcs11_settings()
    key = (os.getpid(), conf["module"], conf["token_label"])
    with _p11_lock:
        session = _p11_sessions.get(key)
        if session is not None:
            return session
        try:
            lib = pkcs11.lib(conf["module"])
            token = lib.get_token(token_label=conf["token_label"])
        except (p11_exc.PKCS11Error, RuntimeError, OSError) as exc:
            raise KeyUnavailable(f"PKCS#11 token {conf['token_label']!r} not available: {exc!r}") from exc
        try:
            session = token.open(rw=True, user_pin=conf.get("user_pin") or None)
        except p11_exc.UserAlreadyLoggedIn:
            session = token.open(rw=True)
        except p11_exc.PKCS11Error as exc:
            raise KeyUnavailable(f"cannot log in to PKCS#11 token {conf['token_label']!r}: {exc!r}") from exc
        _p11_sessions[key] = session
        return session


def _pkcs11_generate(role: str, rsa_bits: int) -> NewKey:
    from pkcs11 import Attribute, KeyType

    label = f"epolicy-{role}-{secrets.token_hex(6)}"
    session = pkcs11_session()
    with _p11_op_lock:
        public, _private = session.generate_keypair(
            KeyType.RSA,
            rsa_bits,
            store=True,
            label=label,
            id=label.encode("ascii"),
            private_template={
                Attribute.SENSITIVE: True,
                Attribute.EXTRACTABLE: False,
                Attribute.SIGN: True,
                Attribute.PRIVATE: True,
            },
        )
        numbers = rsa.RSAPublicNumbers(
            e=int.from_bytes(public[Attribute.PUBLIC_EXPONENT], "big"),
            n=int.from_bytes(public[Attribute.MODULUS], "big"),
        )
    return NewKey(store=KeyStore.PKCS11, public_key=numbers.public_key(), token_label=label)


def _pkcs11_store_certificate(label: str, certificate_der: bytes) -> None:
    """Keep the certificate next to its key in the token (tools such as pkcs11-tool show them together)."""
    from pkcs11 import Attribute, CertificateType, ObjectClass

    cert = asn1_x509.Certificate.load(certificate_der)
    session = pkcs11_session()
    with _p11_op_lock:
        session.create_object(
            {
                Attribute.CLASS: ObjectClass.CERTIFICATE,
                Attribute.CERTIFICATE_TYPE: CertificateType.X_509,
                Attribute.TOKEN: True,
                Attribute.LABEL: label,
                Attribute.ID: label.encode("ascii"),
                Attribute.SUBJECT: cert.subject.dump(),
                Attribute.VALUE: certificate_der,
            }
        )


def pkcs11_store_certificate(label: str, certificate_der: bytes) -> None:
    """Keep a certificate next to the token key `label` (an imported licensed-CA certificate)."""
    _pkcs11_store_certificate(label, certificate_der)


def sign_with(new: NewKey, data: bytes) -> bytes:
    """An RSA PKCS#1 v1.5 SHA-256 signature by a new key, wherever it is (a certificate request's)."""
    if new.private_key is not None:
        if not isinstance(new.private_key, rsa.RSAPrivateKey):
            raise ValueError("only RSA keys sign certificate requests here")
        return new.private_key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    from pkcs11 import Attribute, Mechanism, ObjectClass

    session = pkcs11_session()
    with _p11_op_lock:
        (key,) = list(
            session.get_objects({Attribute.CLASS: ObjectClass.PRIVATE_KEY, Attribute.LABEL: new.token_label})
        )
        signature: bytes = key.sign(data, mechanism=Mechanism.SHA256_RSA_PKCS)
    return signature


def import_to_pkcs11(cred: SigningCredential) -> SigningCredential:
    """Move a credential's key from the database or a file into the configured token.

    The key is imported as sensitive and non-extractable; the database copy is erased (a key file is
    left for the operator to destroy, since it may be the only backup).
    """
    from pkcs11 import Attribute, KeyType, ObjectClass

    key = load_private_key(cred)
    if key is None:
        raise ValueError(f"credential {cred.pk} is already in a PKCS#11 token")
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("only RSA keys are imported into the token")
    numbers = key.private_numbers()
    label = f"epolicy-{cred.role}-{secrets.token_hex(6)}"

    def b(value: int) -> bytes:
        return value.to_bytes((value.bit_length() + 7) // 8 or 1, "big")

    session = pkcs11_session()
    with _p11_op_lock:
        session.create_object(
            {
                Attribute.CLASS: ObjectClass.PRIVATE_KEY,
                Attribute.KEY_TYPE: KeyType.RSA,
                Attribute.TOKEN: True,
                Attribute.PRIVATE: True,
                Attribute.SENSITIVE: True,
                Attribute.EXTRACTABLE: False,
                Attribute.SIGN: True,
                Attribute.LABEL: label,
                Attribute.ID: label.encode("ascii"),
                Attribute.MODULUS: b(numbers.public_numbers.n),
                Attribute.PUBLIC_EXPONENT: b(numbers.public_numbers.e),
                Attribute.PRIVATE_EXPONENT: b(numbers.d),
                Attribute.PRIME_1: b(numbers.p),
                Attribute.PRIME_2: b(numbers.q),
                Attribute.EXPONENT_1: b(numbers.dmp1),
                Attribute.EXPONENT_2: b(numbers.dmq1),
                Attribute.COEFFICIENT: b(numbers.iqmp),
            }
        )
    _pkcs11_store_certificate(label, bytes(cred.certificate))
    SigningCredential.objects.filter(pk=cred.pk).update(
        key_store=KeyStore.PKCS11, key_ref=label, private_key=b""
    )
    cred.refresh_from_db()
    clear_signers()
    return cred


# ---------------------------------------------------------------------------------------------------------
# Signers


def signing_certificate_attr(cert: asn1_x509.Certificate) -> bytes:
    """The DER of a signing-certificate-v2 attribute (RFC 5035) naming `cert`.

    asn1crypto takes several milliseconds to assemble this value (it re-encodes the issuer name through
    its mutation tracking), while a value parsed back from DER encodes at once, so it is made once
    per certificate and re-parsed for each signature.
    """
    return simple_cms_attribute("signing_certificate_v2", as_signing_certificate_v2(cert)).dump()


class _PrebuiltSigningCertificate(CMSAttributeProvider):
    attribute_type = "signing_certificate_v2"

    def __init__(self, attr_der: bytes):
        self.attr_der = attr_der

    async def get_attribute(self, dry_run: bool = False) -> cms.CMSAttribute:
        return cms.CMSAttribute.load(self.attr_der)


def hash_algorithm(name: str) -> hashes.HashAlgorithm:
    algorithms: dict[str, hashes.HashAlgorithm] = {
        "sha256": hashes.SHA256(),
        "sha384": hashes.SHA384(),
        "sha512": hashes.SHA512(),
    }
    try:
        return algorithms[name.lower()]
    except KeyError as exc:
        raise SigningError(f"unsupported digest algorithm {name}") from exc


@dataclass(frozen=True)
class _CmsParts:
    """DER of what every signature of one signer shares, for one digest algorithm and CMS version."""

    version: bytes
    sid: bytes
    digest_algorithm: bytes
    signature_algorithm: bytes
    certificates: bytes


class HeldKeySigner(signers.SimpleSigner):
    """SimpleSigner that signs with a key object it holds, instead of re-parsing the key every time."""

    def __init__(
        self,
        *,
        key: PrivateKey,
        cert: asn1_x509.Certificate,
        chain: tuple[asn1_x509.Certificate, ...],
    ):
        from . import pki

        self._key = key
        self._signing_cert_attr = signing_certificate_attr(cert)
        self._parts: dict[tuple[str, str], _CmsParts] = {}
        super().__init__(
            signing_cert=cert,
            signing_key=pki.key_to_asn1(key),
            cert_registry=SimpleCertificateStore.from_certs(chain),
            # The root is what every verifier already trusts; leaving it out makes /Contents 1.4 kB
            # (2.8 k hex digits) shorter, and verifiers read those digit by digit.
            embed_roots=False,
        )

    def _signed_attr_providers(self, *args: Any, **kwargs: Any) -> Iterator[CMSAttributeProvider]:
        for provider in super()._signed_attr_providers(*args, **kwargs):
            if isinstance(provider, SigningCertificateV2Provider):
                yield _PrebuiltSigningCertificate(self._signing_cert_attr)
            else:
                yield provider

    def _package_signature(
        self,
        *,
        digest_algorithm: str,
        cms_version: Any,
        signed_attrs: cms.CMSAttributes,
        signature: bytes,
        unsigned_attrs: cms.CMSAttributes | None,
        encap_content_info: Any,
    ) -> cms.ContentInfo:
        """pyHanko's SignedData, joined from parts encoded once per signer (see `der`).

        A PDF signature is detached and carries no attribute certificates; anything else is left to
        pyHanko.
        """
        detached = encap_content_info is None or encap_content_info == {"content_type": "data"}
        if not detached or self.attribute_certs or digest_algorithm == "shake256":
            return super()._package_signature(
                digest_algorithm=digest_algorithm,
                cms_version=cms_version,
                signed_attrs=signed_attrs,
                signature=signature,
                unsigned_attrs=unsigned_attrs,
                encap_content_info=encap_content_info,
            )
        parts = self._cms_parts(digest_algorithm, cms_version)
        info = der.signer_info(
            sid=parts.sid,
            digest_algorithm=parts.digest_algorithm,
            signed_attrs=signed_attrs.dump(),
            signature_algorithm=parts.signature_algorithm,
            signature=signature,
            unsigned_attrs=None if unsigned_attrs is None else unsigned_attrs.dump(),
        )
        return cms.ContentInfo.load(
            der.signed_data(
                version=parts.version,
                digest_algorithm=parts.digest_algorithm,
                encap_content_info=der.DETACHED_CONTENT,
                certificates=parts.certificates,
                signer_info=info,
            )
        )

    def _cms_parts(self, digest_algorithm: str, cms_version: Any) -> _CmsParts:
        key = (digest_algorithm, str(cms_version))
        parts = self._parts.get(key)
        if parts is None:
            # pyHanko's own SignerInfo, made once with empty values, gives the signer's encoded parts.
            template = self.signer_info(digest_algorithm, cms.CMSAttributes([]), b"")
            certificates: dict[bytes, None] = {}
            for cert in self.cert_registry or ():
                if self.embed_roots or cert.self_signed == "no":
                    certificates[cert.dump()] = None
            signing_cert = self.signing_cert
            if signing_cert is None:  # set in __init__; pyHanko types it optional
                raise SigningError("the signer's certificate is missing")
            certificates[signing_cert.dump()] = None
            parts = self._parts[key] = _CmsParts(
                version=cms.CMSVersion(cms_version).dump(),
                sid=template["sid"].dump(),
                digest_algorithm=template["digest_algorithm"].dump(),
                signature_algorithm=template["signature_algorithm"].dump(),
                certificates=der.set_of(list(certificates)),
            )
        return parts

    def sign_raw(self, data: bytes, digest_algorithm: str) -> bytes:
        hash_algo = hash_algorithm(digest_algorithm)
        if isinstance(self._key, rsa.RSAPrivateKey):
            mechanism = self.get_signature_mechanism_for_digest(digest_algorithm)
            if mechanism.signature_algo != "rsassa_pkcs1v15":
                raise SigningError(f"unsupported RSA signature mechanism {mechanism.signature_algo}")
            return self._key.sign(data, padding.PKCS1v15(), hash_algo)
        return self._key.sign(data, ec.ECDSA(hash_algo))


class _SerializedKeyHandle:
    """A token key handle whose operations take the process-wide token lock."""

    def __init__(self, handle: Any):
        self._handle = handle

    def sign(self, data: bytes, **kwargs: Any) -> bytes:
        with _p11_op_lock:
            result: bytes = self._handle.sign(data, **kwargs)
            return result

    def __getattr__(self, name: str) -> Any:
        return getattr(self._handle, name)


def _token_signer(cred: LoadedCredential) -> signers.Signer:
    from pyhanko.sign.pkcs11 import PKCS11Signer

    class TokenSigner(PKCS11Signer):
        def _pull_signing_key_handle(self) -> Any:
            return _SerializedKeyHandle(super()._pull_signing_key_handle())

    is_ec = cred.cert_asn1.public_key.algorithm == "ec"
    return TokenSigner(
        pkcs11_session(),
        key_label=cred.key_ref,
        signing_cert=cred.cert_asn1,
        ca_chain=cred.chain_asn1,
        other_certs_to_pull=None,
        embed_roots=False,
        # SoftHSM2 (and most tokens) only offer raw ECDSA: pyHanko then hashes itself.
        use_raw_mechanism=is_ec,
    )


_signers: dict[str, signers.Signer] = {}
_signers_lock = threading.Lock()


def signer_for_credential(cred: LoadedCredential) -> signers.Signer:
    """A pyHanko signer for a loaded credential, wherever its key lives (cached per process)."""
    signer = _signers.get(cred.fingerprint)
    if signer is not None:
        return signer
    if cred.key_store == KeyStore.PKCS11:
        signer = _token_signer(cred)
    else:
        signer = HeldKeySigner(key=cred.require_key(), cert=cred.cert_asn1, chain=cred.chain_asn1)
    with _signers_lock:
        if len(_signers) >= 32:
            _signers.clear()
        _signers[cred.fingerprint] = signer
    return signer


def signer_for(role: str) -> signers.Signer:
    """The signer of the active credential of `role` (the insurer's seal, normally)."""
    from . import pki

    return signer_for_credential(pki.load_credential(role))


def signer_for_key(
    key: PrivateKey, cert: asn1_x509.Certificate, chain: tuple[asn1_x509.Certificate, ...]
) -> signers.Signer:
    """A signer for a key held in memory only (an applicant's one-use event certificate key)."""
    return HeldKeySigner(key=key, cert=cert, chain=chain)


def clear_signers() -> None:
    with _signers_lock:
        _signers.clear()
