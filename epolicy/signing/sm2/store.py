"""The development SM2 seal PKI on disk: an SM2 root (key offline) and an SM2 seal (key encrypted).

    <SIGNING_KEY_DIR>/sm2/                      (mode 0700)
        roots/<key id>.crt      every SM2 root ever made (PEM): all stay trusted, old documents verify
        crls/<key id>.crl       each root's newest CRL (DER), signed SM2-with-SM3
        seal-<key id>.crt       seal certificates (PEM)
        seal-<key id>.p8        their keys: PKCS#8, PBES2/AES-256 under SIGNING_KEY_PASSPHRASE (0600)
        seal.current            the key id of the seal in use
    <SIGNING_ROOT_KEY_DIR>/sm2-root-ca-<key id>.p8   the root's key, under a passphrase printed once

As with the RSA root (docs/pki.md), the SM2 root's key is not kept online: it signs the seal and a
CRL at creation and is then written for offline media with a fresh passphrase of its own. Renewing
the CRL or revoking the seal takes it back for one command (`epolicy pki_sm2_init --renew-crl /
--revoke-seal --root-key FILE`).

Certificates and CRLs are public data; the verifier reads them here (`trusted_roots`, `crls`), so every
machine that verifies SM2 documents needs this directory (or a copy of roots/ and crls/).
"""

from __future__ import annotations

import datetime as dt
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from asn1crypto import crl as asn1_crl
from asn1crypto import pem, x509
from django.conf import settings

from epolicy.common import clock

from ..pki import offline as pki_offline
from . import certificates
from .keys import Sm2Key, Sm2KeyError, decrypt_pem, encrypt_pem, generate

ROOT_YEARS = 20
SEAL_YEARS = 3
ROOT_KEY_PREFIX = "sm2-root-ca-"


class Sm2PkiMissing(Exception):
    """The SM2 track is on but `epolicy pki_sm2_init` has not been run (or the files are gone)."""

    def __init__(self, detail: str = ""):
        super().__init__(
            "SEAL_ALGORITHM is sm2 but there is no SM2 seal certificate: run `epolicy pki_sm2_init`"
            + (f" ({detail})" if detail else "")
        )


def sm2_dir() -> Path:
    return Path(settings.SIGNING_KEY_DIR) / "sm2"


def _kid(cert: x509.Certificate) -> str:
    public = certificates.sm2_public_key(cert)
    assert public is not None
    return certificates.key_identifier(public).hex()[:16]


def _write_new(path: Path, data: bytes, mode: int = 0o600) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def _replace(path: Path, data: bytes) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _pem_cert(cert: x509.Certificate) -> bytes:
    armored: bytes = pem.armor("CERTIFICATE", cert.dump())
    return armored


def _load_cert(path: Path) -> x509.Certificate:
    data = path.read_bytes()
    if pem.detect(data):
        _kind, _headers, data = pem.unarmor(data)
    return x509.Certificate.load(data)


def _passphrase() -> bytes:
    return settings.SIGNING_KEY_PASSPHRASE.encode("utf-8")


# ---------------------------------------------------------------------------------------------------------
# Reading (signer and verifier)


def version() -> tuple[tuple[str, int], ...]:
    """Names and modification times of the public files: the trust cache is read again when they change."""
    directory = sm2_dir()
    found: list[tuple[str, int]] = []
    for sub in ("roots", "crls"):
        try:
            with os.scandir(directory / sub) as entries:
                found += [(f"{sub}/{e.name}", e.stat().st_mtime_ns) for e in entries]
        except OSError:
            continue
    return tuple(sorted(found))


def trusted_roots() -> tuple[bytes, ...]:
    """DER of every SM2 root certificate made here (empty when the track was never set up)."""
    directory = sm2_dir() / "roots"
    if not directory.is_dir():
        return ()
    return tuple(_load_cert(p).dump() for p in sorted(directory.glob("*.crt")))


def crls() -> tuple[bytes, ...]:
    directory = sm2_dir() / "crls"
    if not directory.is_dir():
        return ()
    return tuple(p.read_bytes() for p in sorted(directory.glob("*.crl")))


@dataclass(frozen=True)
class Sm2Seal:
    """The seal in use: certificate, its chain up to (and including) its root, and its key."""

    certificate: x509.Certificate
    chain: tuple[x509.Certificate, ...]
    key: Sm2Key

    @property
    def fingerprint(self) -> str:
        return certificates.fingerprint(self.certificate)

    @property
    def serial_hex(self) -> str:
        return format(self.certificate.serial_number, "x")


_seal_lock = threading.Lock()
_seal_cache: dict[tuple[str, int], Sm2Seal] = {}


def load_seal() -> Sm2Seal:
    """The current SM2 seal (kept per process while `seal.current` is unchanged: PBKDF2 is slow)."""
    directory = sm2_dir()
    pointer = directory / "seal.current"
    try:
        stamp = (str(pointer), pointer.stat().st_mtime_ns)
        kid = pointer.read_text().strip()
    except OSError as exc:
        raise Sm2PkiMissing(str(pointer)) from exc
    with _seal_lock:
        cached = _seal_cache.get(stamp)
    if cached is not None:
        return cached
    try:
        cert = _load_cert(directory / f"seal-{kid}.crt")
        key = decrypt_pem((directory / f"seal-{kid}.p8").read_bytes(), _passphrase())
    except OSError as exc:
        raise Sm2PkiMissing(str(exc)) from exc
    except Sm2KeyError as exc:
        raise Sm2PkiMissing(f"seal key: {exc}") from exc
    roots = [x509.Certificate.load(der) for der in trusted_roots()]
    issuer = next((r for r in roots if certificates.signed_by(cert, r)), None)
    if issuer is None:
        raise Sm2PkiMissing("the seal certificate's SM2 root is missing from roots/")
    seal = Sm2Seal(certificate=cert, chain=(issuer,), key=key)
    with _seal_lock:
        _seal_cache.clear()
        _seal_cache[stamp] = seal
    return seal


def is_initialised() -> bool:
    return (sm2_dir() / "seal.current").is_file()


# ---------------------------------------------------------------------------------------------------------
# Making the PKI and its CRLs


@dataclass(frozen=True)
class Sm2InitResult:
    root: x509.Certificate
    seal: x509.Certificate
    root_key_file: Path
    root_passphrase: str  # printed once by the command, stored nowhere


def initialise(*, offline_dir: Path | None = None) -> Sm2InitResult:
    """A new SM2 root (key exported offline), a seal under it and the root's first CRL.

    Earlier roots stay in roots/ (documents sealed under them keep verifying); the new seal becomes
    the current one.
    """
    now = clock.now()
    root_key = generate()
    root = certificates.build_certificate(
        subject=certificates.names("root"),
        public=root_key.public,
        issuer=None,
        issuer_key=root_key,
        not_before=now - dt.timedelta(minutes=5),
        not_after=now + dt.timedelta(days=365 * ROOT_YEARS),
        ca=True,
    )
    seal_key = generate()
    seal = certificates.build_certificate(
        subject=certificates.names("seal"),
        public=seal_key.public,
        issuer=root,
        issuer_key=root_key,
        not_before=now - dt.timedelta(minutes=5),
        not_after=now + dt.timedelta(days=365 * SEAL_YEARS),
        ca=False,
    )
    directory = sm2_dir()
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    # The root key first: if it cannot be written, nothing else is.
    passphrase = pki_offline.new_passphrase()
    key_dir = offline_dir if offline_dir is not None else pki_offline.offline_dir()
    root_file = key_dir / f"{ROOT_KEY_PREFIX}{_kid(root)}.p8"
    _write_new(root_file, encrypt_pem(root_key, passphrase.encode("ascii")))
    _write_new(directory / "roots" / f"{_kid(root)}.crt", _pem_cert(root), mode=0o644)
    _write_crl(root, root_key, revoked=(), number=1)
    seal_kid = _kid(seal)
    _write_new(directory / f"seal-{seal_kid}.p8", encrypt_pem(seal_key, _passphrase()))
    _write_new(directory / f"seal-{seal_kid}.crt", _pem_cert(seal), mode=0o644)
    _replace(directory / "seal.current", seal_kid.encode("ascii"))
    return Sm2InitResult(root=root, seal=seal, root_key_file=root_file, root_passphrase=passphrase)


def load_root_key(path: Path | str, passphrase: str) -> tuple[x509.Certificate, Sm2Key]:
    """The offline root key brought back, with the root certificate it belongs to."""
    key = decrypt_pem(Path(path).read_bytes(), passphrase.encode("utf-8"))
    for der in trusted_roots():
        root = x509.Certificate.load(der)
        if certificates.sm2_public_key(root) == key.public:
            return root, key
    raise Sm2KeyError("this key belongs to none of the SM2 roots in roots/")


def current_crl(root: x509.Certificate) -> asn1_crl.CertificateList | None:
    path = sm2_dir() / "crls" / f"{_kid(root)}.crl"
    try:
        return asn1_crl.CertificateList.load(path.read_bytes())
    except OSError:
        return None


def _write_crl(
    root: x509.Certificate, key: Sm2Key, *, revoked: tuple[tuple[int, dt.datetime], ...], number: int
) -> asn1_crl.CertificateList:
    now = clock.now()
    crl = certificates.build_crl(
        issuer=root,
        issuer_key=key,
        number=number,
        this_update=now,
        next_update=now + pki_offline.root_crl_validity(),
        revoked=revoked,
    )
    _replace(sm2_dir() / "crls" / f"{_kid(root)}.crl", crl.dump())
    return crl


def renew_crl(
    root: x509.Certificate, key: Sm2Key, *, revoke: tuple[int, ...] = ()
) -> asn1_crl.CertificateList:
    """The root's next CRL: what the last one listed, plus `revoke` (serials) revoked now."""
    previous = current_crl(root)
    listed: list[tuple[int, dt.datetime]] = []
    number = 1
    if previous is not None:
        tbs = previous["tbs_cert_list"]
        listed = [
            (entry["user_certificate"].native, entry["revocation_date"].native)
            for entry in tbs["revoked_certificates"]
        ]
        number = int(previous.crl_number_value.native or 0) + 1
    now = clock.now()
    known = {serial for serial, _when in listed}
    listed += [(serial, now) for serial in revoke if serial not in known]
    return _write_crl(root, key, revoked=tuple(listed), number=number)


def seal_certificates() -> list[x509.Certificate]:
    return [_load_cert(p) for p in sorted(sm2_dir().glob("seal-*.crt"))]


def clear_cache() -> None:
    with _seal_lock:
        _seal_cache.clear()
