"""The root CA's key is kept offline: exported once, brought back only for the operations that need it.

The platform never stores the root's private key (its `SigningCredential` keeps the certificate, with
key store `offline` and `key_ref` the name of the key file). When a root is made (`pki_init`, or
`pki_rotate root_ca`), its key signs the CAs below it and the root's first CRL, and is then written to
`<offline dir>/root-ca-<key id>.p8`: PKCS#8 PEM encrypted with a fresh random passphrase that is
returned once (the commands print it) and kept nowhere by the platform. The operator moves the file
to offline media and keeps the passphrase apart from it.

What needs the root key afterwards — a new issuing CA, customer CA or TSA, revoking one of them, a
new root CRL, a new root — takes a `RootKey` (`load_root_key(path, passphrase)`, the commands'
`--root-key FILE`) and raises `RootKeyRequired` without it. The daily CRL job does not need it: the
root's CRL is valid for `root_crl_validity()` (a year by default), `offline_crl_warnings()` says when it
must be renewed, and `renew_offline_crl(root_key)` renews it.

The offline directory is settings.SIGNING_ROOT_KEY_DIR if set, else `<VAR_DIR>/offline` (mode 0700,
with a README for whoever finds it): in development the file stays there; in production it must leave
the machine.
"""

from __future__ import annotations

import base64
import datetime as dt
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.conf import settings
from django.db import transaction

from epolicy.common import clock

from .. import keystore, repository
from ..models import CertificateRevocationList, SigningCredential
from .certificates import PrivateKey, Role, fingerprint

RootKeyRequired = keystore.OfflineKeyRequired
KeyStore = SigningCredential.KeyStore
ROOT_KEY_PASSPHRASE_ENV = keystore.ROOT_KEY_PASSPHRASE_ENV
KEY_FILE_SUFFIX = ".p8"
_README = "README.txt"


class RootKeyError(ValueError):
    """A root key file that cannot be used: wrong passphrase, not a key, not one of our roots' keys."""


@dataclass(frozen=True)
class RootKey:
    """The offline key of one root CA, brought back by the operator for one operation."""

    fingerprint: str  # of the root certificate it belongs to
    key: PrivateKey = field(repr=False)

    def for_credential(self, cred: SigningCredential) -> bool:
        return cred.fingerprint_sha256 == self.fingerprint


@dataclass(frozen=True)
class RootKeyExport:
    """Where a root key was written, and the passphrase that opens it (shown once, stored nowhere)."""

    path: Path
    passphrase: str = field(repr=False)
    fingerprint: str
    serial: str
    subject: str


def root_crl_validity() -> dt.timedelta:
    """How long a CRL of an offline CA is valid: it is renewed by hand, so months (a year by default)."""
    return dt.timedelta(days=int(getattr(settings, "ROOT_CRL_VALIDITY_DAYS", 365)))


def root_crl_warning_days() -> int:
    """How many days before its nextUpdate a root CRL is warned about (default CERT_EXPIRY_WARNING_DAYS)."""
    days = getattr(settings, "ROOT_CRL_WARNING_DAYS", None)
    return int(days if days is not None else settings.CERT_EXPIRY_WARNING_DAYS)


def offline_dir() -> Path:
    configured = getattr(settings, "SIGNING_ROOT_KEY_DIR", "")
    return Path(configured) if configured else Path(settings.VAR_DIR) / "offline"


def key_file_name(cert: x509.Certificate) -> str:
    """`root-ca-<first 16 hex digits of the key identifier>.p8`: the root's public name (`repository`)."""
    return repository.ca_name(Role.ROOT_CA, cert) + KEY_FILE_SUFFIX


def new_passphrase() -> str:
    """160 random bits as 8 groups of 4 base32 characters: easy to write down, read out and type."""
    text = base64.b32encode(secrets.token_bytes(20)).decode("ascii")
    return "-".join(text[i : i + 4] for i in range(0, len(text), 4))


def export_root_key(key: PrivateKey, cert: x509.Certificate, directory: Path | None = None) -> RootKeyExport:
    """Write a root key, encrypted with a fresh passphrase, to the offline directory (never overwriting)."""
    directory = directory if directory is not None else offline_dir()
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    passphrase = new_passphrase()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(passphrase.encode("ascii")),
    )
    path = directory / key_file_name(cert)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    _write_readme(directory)
    return RootKeyExport(
        path=path,
        passphrase=passphrase,
        fingerprint=fingerprint(cert),
        serial=format(cert.serial_number, "x"),
        subject=cert.subject.rfc4514_string(),
    )


def _write_readme(directory: Path) -> None:
    text = f"""Offline root CA keys of epolicy — move them off this machine
================================================================

Each root-ca-<key id>{KEY_FILE_SUFFIX} here is the private key of a root CA of the platform's PKI, as PKCS#8
PEM encrypted with a passphrase that was printed once when the file was written (by `epolicy pki_init`
or `epolicy pki_rotate root_ca`). The platform keeps neither the key nor the passphrase.

In production this file must not stay here: copy it to two offline media (e.g. encrypted USB
sticks kept in separate safes), check that the copies open (openssl pkey -in FILE -noout), delete it
from this machine, and keep the passphrase apart from the media. In development it may stay here.

It is needed only for:
  epolicy pki_rotate issuing_ca|customer_ca|tsa|root_ca --root-key FILE
  epolicy pki_revoke --serial SERIAL --root-key FILE     (a certificate the root issued)
  epolicy crl_refresh --root-key FILE                   (renew the root's CRL; `epolicy pki_status`
                                                          warns in time)
The passphrase is read from ${ROOT_KEY_PASSPHRASE_ENV} or asked for. See docs/pki.md.

这里的 root-ca-*{KEY_FILE_SUFFIX} 是平台根 CA 的私钥（口令加密，口令仅在生成时显示一次）。
生产环境中须将其转存到离线介质并从本机删除；仅在签发 CA 证书、吊销根签发的证书、更新根 CRL 时使用。
"""
    path = directory / _README
    path.write_text(text, encoding="utf-8")
    path.chmod(0o600)


def load_root_key(path: Path | str, passphrase: str) -> RootKey:
    """The root key in an offline file, checked against the root certificates the platform has."""
    try:
        pem = Path(path).read_bytes()
    except OSError as exc:
        raise RootKeyError(f"cannot read root key file {path}: {exc.strerror or exc}") from exc
    try:
        key = serialization.load_pem_private_key(pem, password=passphrase.encode("utf-8"))
    except (ValueError, TypeError) as exc:
        raise RootKeyError(f"{path}: wrong passphrase, or not an encrypted private key file") from exc
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise RootKeyError(f"{path}: unsupported key type")
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    for cred in SigningCredential.objects.filter(role=Role.ROOT_CA).order_by("-created_at", "-id"):
        cert = x509.load_der_x509_certificate(bytes(cred.certificate))
        mine = cert.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        if mine == public:
            return RootKey(fingerprint=cred.fingerprint_sha256, key=key)
    raise RootKeyError(f"{path} is not the key of any root CA of this platform")


def signing_key(cred: SigningCredential, root_key: RootKey | None, what: str) -> PrivateKey:
    """The key of an offline CA for `what` (e.g. "issue its CRL"); RootKeyRequired unless brought."""
    if root_key is not None and root_key.for_credential(cred):
        return root_key.key
    if root_key is not None:
        what += " (the key brought belongs to another root)"
    raise RootKeyRequired(cred, what)


def is_offline(cred: SigningCredential) -> bool:
    return cred.key_store == KeyStore.OFFLINE


# ---------------------------------------------------------------------------------------------------------
# The root's CRL: renewed only with the key, warned about without it


def is_final(row: CertificateRevocationList) -> bool:
    """A CRL that runs until its CA expires: the last one a retired root signs, never to be renewed."""
    return row.next_update >= row.issuer.not_after


@dataclass(frozen=True)
class OfflineCrlWarning:
    """An offline CA (a root) whose CRL must soon be renewed with its key, or has none, or has lapsed."""

    ca: SigningCredential
    next_update: dt.datetime | None  # None: the CA has no CRL at all
    days_left: int

    @property
    def message(self) -> str:
        file_name = self.ca.key_ref or "root-ca-<key id>.p8"
        if self.next_update is None:
            state = "has no CRL"
        elif self.days_left < 0:
            state = f"CRL expired on {clock.fmt_local(self.next_update)}"
        else:
            state = f"CRL expires on {clock.fmt_local(self.next_update)} ({self.days_left} days left)"
        return (
            f"root CA {self.ca.serial} {state}: bring its offline key {file_name} and run "
            f"`epolicy crl_refresh --root-key <path to {file_name}>`"
        )


def offline_crl_warnings(*, now: dt.datetime | None = None) -> list[OfflineCrlWarning]:
    """Offline CAs whose CRL is missing or within `root_crl_warning_days()` of its nextUpdate.

    A retired root's final CRL and an expired root need nothing. Documents signed while the CRL is
    current keep verifying; one signed after it lapsed verifies as `revocation_unknown` until renewed.
    """
    from .. import crl

    now = now or clock.now()
    window = root_crl_warning_days()
    by_issuer = {row.issuer_id: row for row in crl.latest_crls()}
    warnings: list[OfflineCrlWarning] = []
    cas = SigningCredential.objects.filter(
        role__in=crl.CA_ROLES, key_store=KeyStore.OFFLINE, not_after__gt=now
    )
    for ca in cas.order_by("created_at", "id"):
        latest = by_issuer.get(ca.pk)
        if latest is None:
            warnings.append(OfflineCrlWarning(ca=ca, next_update=None, days_left=-1))
            continue
        days = (latest.next_update - now) // dt.timedelta(days=1)
        if not is_final(latest) and days <= window:
            warnings.append(OfflineCrlWarning(ca=ca, next_update=latest.next_update, days_left=days))
    return warnings


def renew_offline_crl(root_key: RootKey, *, actor: str = "system") -> CertificateRevocationList:
    """Issue a new CRL of the root whose key the operator brought, however long its last one has left."""
    from epolicy.audit.services import audit_record

    from .. import crl

    with transaction.atomic():
        ca = SigningCredential.objects.filter(
            role__in=crl.CA_ROLES, fingerprint_sha256=root_key.fingerprint
        ).first()
        if ca is None:
            raise RootKeyError("the key brought belongs to no CA of the platform")
        row = crl.issue_crl(ca, root_key=root_key)
        audit_record(
            action="pki.offline_crl_issued",
            actor=actor,
            subject_type="signing_credential",
            subject_id=ca.serial,
            data={
                "crl_number": row.number,
                "next_update": row.next_update.isoformat(),
                "entries": row.entries,
            },
        )
    return row
