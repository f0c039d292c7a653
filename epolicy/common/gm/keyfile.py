"""The platform's own SM2 envelope key on disk: made once, at random, never derived from anything.

Development makes it on first start beside var/secrets.json (mode 0600 in a 0700 directory, under an
exclusive lock so processes starting together agree on one key); production reads the operator's file.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path


def _write_private(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def ensure_key_pair(
    key_file: Path, certificate_file: Path, *, common_name: str, organization: str = ""
) -> bool:
    """Create the key (and its self-signed certificate) when missing; True when made now."""
    key_file.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(PermissionError):
        os.chmod(key_file.parent, 0o700)
    if key_file.exists() and certificate_file.exists():
        return False
    # The SM2 code (GmSSL) only to make a key: the settings call this at every start of every command.
    from .sm2 import SM2PrivateKey, self_signed_certificate

    with open(key_file.parent / ".sm-envelope.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            made = False
            if not key_file.exists():
                _write_private(key_file, SM2PrivateKey.generate().to_pem())
                made = True
            if made or not certificate_file.exists():
                key = SM2PrivateKey.from_pem(key_file.read_text())
                cert = self_signed_certificate(key, common_name, organization=organization)
                certificate_file.write_text(cert)
                made = True
            return made
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
