"""Creating and rotating the development PKI: `pki_init` makes what is missing, `pki_rotate` replaces a role.

`pki_rotate` replaces a credential without breaking old documents (old certificates stay trusted); see
also `lifecycle`. A CA that is (re)created takes its descendants with it, and every CA then has a
current CRL (`crl`).

The root CA's key is offline (`offline`): a new root's key signs the CAs below it and its first CRL in
memory and is then exported for offline media; anything else signed by a root that already exists (a
new issuing CA, customer CA or TSA, or the retirement of the root itself) needs its key brought back
(`root_key`), and raises `RootKeyRequired` before changing anything otherwise. A root whose key an
older version kept online is taken offline by the next `pki_init`.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from collections.abc import Callable
from pathlib import Path

from cryptography import x509
from django.db import transaction

from epolicy.common import clock

# The package itself, not `.loading`: `_renew` calls `pki._load_key` so that a test replacing it on the
# package (as `crl` calls it) replaces it here too, as it did when all of this was one module.
from .. import keystore, pki
from ..models import SigningCredential
from . import offline
from .certificates import BACKDATE, PrivateKey, Role, _build_certificate, _names, _store, fingerprint
from .loading import _certificate_of, clear_cache
from .offline import RootKey, RootKeyExport

logger = logging.getLogger(__name__)
KeyStore = SigningCredential.KeyStore

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


class PkiChanges(dict[str, str]):
    """What `pki_init` / `pki_rotate` did: role -> subject of each credential created (a dict, as before).

    `root_exports` lists the root keys written for offline media in this run, each with the passphrase
    that opens it: the caller shows it once to the operator; the platform keeps it nowhere.
    """

    def __init__(self) -> None:
        super().__init__()
        self.root_exports: list[RootKeyExport] = []


def pki_init(
    *, force: bool = False, root_key: RootKey | None = None, offline_dir: Path | None = None
) -> PkiChanges:
    """Create the credentials that are missing (all of them with force=True); role -> subject created.

    A CA that is (re)created takes its descendants with it, so a chain never mixes generations. Old
    credentials are only deactivated, never deleted: documents signed with them must still verify.
    New keys go to the key store of settings.SIGNING_KEYSTORE (see `keystore`), a new root's key to
    `offline_dir` (see `offline`). Every CA then has a current CRL (see `crl`). On a complete PKI this
    changes nothing and needs no root key; re-creating anything the existing root signs needs `root_key`.
    """
    from .. import crl

    with transaction.atomic():
        changes = PkiChanges()
        held = _take_roots_offline(offline_dir, changes)
        created_root_key = _renew(
            lambda role, current: force or current is None, root_key or held, offline_dir, changes
        )
        crl.ensure_fresh_crls(root_key=created_root_key or root_key or held)
    clear_cache()
    return changes


def pki_rotate(
    role: str, *, actor: str = "system", root_key: RootKey | None = None, offline_dir: Path | None = None
) -> PkiChanges:
    """Replace the active credential of `role` (a CA with its descendants) by a new key and certificate.

    The old credential is deactivated but kept: its certificate stays trusted for verifying documents
    signed before the rotation. Returns role -> subject of what was created. Every role but the seal
    hangs under the root (or is the root) and needs `root_key`, the key of the active root.
    """
    from epolicy.audit.services import audit_record

    if role not in _ROLE_ORDER:
        raise ValueError(f"unknown role {role!r}; one of {', '.join(_ROLE_ORDER)}")
    from .. import crl

    with transaction.atomic():
        old: dict[str, SigningCredential | None] = {r: SigningCredential.active_for(r) for r in _ROLE_ORDER}
        changes = PkiChanges()
        held = _take_roots_offline(offline_dir, changes)
        created_root_key = _renew(
            lambda r, current: r == role or current is None, root_key or held, offline_dir, changes
        )
        crl.ensure_fresh_crls(root_key=created_root_key or root_key or held)
        exported = {e.fingerprint: e.path.name for e in changes.root_exports}
        for created_role in changes:
            new = SigningCredential.active_for(created_role)
            previous = old[created_role]
            data: dict[str, object] = {
                "role": created_role,
                "previous_serial": previous.serial if previous is not None else None,
                "key_store": new.key_store if new is not None else None,
            }
            if new is not None and new.fingerprint_sha256 in exported:
                data["offline_key_file"] = exported[new.fingerprint_sha256]
            audit_record(
                action="pki.credential_rotated",
                actor=actor,
                subject_type="signing_credential",
                subject_id=new.serial if new is not None else "",
                data=data,
            )
    clear_cache()
    return changes


def _plan(
    wanted: Callable[[str, SigningCredential | None], bool], current: dict[str, SigningCredential | None]
) -> list[str]:
    """The roles to (re)create, parents before children: those wanted, and the descendants of those."""
    plan: list[str] = []
    for role in _ROLE_ORDER:
        parent_role = _PARENT.get(role)
        cred = current[role]
        # A credential a licensed CA certified (`licensed`) does not hang under our CA being renewed:
        # it is replaced only when asked for by name.
        follows_parent = parent_role is not None and parent_role in plan
        if follows_parent and cred is not None and cred.external_issuer:
            follows_parent = False
        if wanted(role, cred) or follows_parent:
            plan.append(role)
    return plan


def _existing_root_key(
    plan: list[str], root: SigningCredential | None, root_key: RootKey | None
) -> PrivateKey | None:
    """The key of the root that stays (or retires) if the plan signs with it; RootKeyRequired if absent."""
    if root is None:
        return None
    signs = [r for r in plan if _PARENT.get(r) == Role.ROOT_CA]
    if Role.ROOT_CA in plan:
        what = "retire it (a final CRL) before a new root replaces it"
    elif signs:
        what = f"sign the new {', '.join(signs)} certificate{'s' if len(signs) > 1 else ''}"
    else:
        return None
    if not offline.is_offline(root):
        return pki._load_key(root)  # only a root in a token gets here (KeyUnavailable: it cannot sign CAs)
    return offline.signing_key(root, root_key, what)


def _renew(
    wanted: Callable[[str, SigningCredential | None], bool],
    root_key: RootKey | None,
    offline_dir: Path | None,
    changes: PkiChanges,
) -> RootKey | None:
    """Create the planned credentials into `changes`; returns the key of a root made here (in memory)."""
    from .. import crl

    made_root: RootKey | None = None
    with transaction.atomic():
        current: dict[str, SigningCredential | None] = {
            r: SigningCredential.objects.select_for_update()
            .filter(role=r, active=True)
            .order_by("-created_at", "-id")
            .first()
            for r in _ROLE_ORDER
        }
        plan = _plan(wanted, current)
        # Asked before any key is made, so that a missing root key changes nothing.
        old_root = current[Role.ROOT_CA]
        old_root_key = _existing_root_key(plan, old_root, root_key)
        keys: dict[str, PrivateKey] = {}
        for role in plan:
            parent_role = _PARENT.get(role)
            now = clock.now()
            new_key = keystore.generate_key(role, rsa_bits=_RSA_BITS[role])
            issuer_cert: x509.Certificate | None
            issuer_key: PrivateKey
            if parent_role is None:
                assert new_key.private_key is not None  # a root is made in memory, then exported
                issuer_cert, issuer_key = None, new_key.private_key
            else:
                parent = current[parent_role]
                assert parent is not None  # created earlier in this loop when it was missing
                issuer_cert = _certificate_of(parent)
                if parent_role in keys:
                    issuer_key = keys[parent_role]
                elif parent_role == Role.ROOT_CA:
                    assert old_root_key is not None  # _existing_root_key asked for it
                    issuer_key = old_root_key
                else:
                    issuer_key = pki._load_key(parent)
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
            where: dict[str, object] | None = None
            if role == Role.ROOT_CA:
                if old_root is not None and old_root_key is not None:
                    # The retired root signs a last CRL, valid until it expires: its hierarchy keeps
                    # verifying without its key ever being brought again.
                    crl.issue_crl(old_root, root_key=RootKey(old_root.fingerprint_sha256, old_root_key))
                assert new_key.private_key is not None
                export = offline.export_root_key(new_key.private_key, cert, offline_dir)
                changes.root_exports.append(export)
                made_root = RootKey(fingerprint=fingerprint(cert), key=new_key.private_key)
                where = {"key_store": KeyStore.OFFLINE, "key_ref": export.path.name, "private_key": b""}
            stored = current[role] = _store(role, cert, new_key, where=where)
            if new_key.private_key is not None:
                keys[role] = new_key.private_key
            changes[role] = stored.subject
    return made_root


def _take_roots_offline(offline_dir: Path | None, changes: PkiChanges) -> RootKey | None:
    """Export every root key an older version kept online, and erase the online copy.

    Returns the active root's key (in memory, for this run only: it signs that root's first long CRL).
    A retired root signs its final CRL now, so its key is never needed again. A key in a token stays
    there (non-extractable, and a token is not "beside the application data").
    """
    from .. import crl

    held: RootKey | None = None
    roots = SigningCredential.objects.select_for_update().filter(
        role=Role.ROOT_CA, key_store__in=(KeyStore.DATABASE, KeyStore.FILES)
    )
    for root in roots.order_by("created_at", "id"):
        try:
            key = keystore.load_private_key(root)
        except keystore.KeyUnavailable as exc:
            logger.warning("root CA %s not taken offline: %s", root.serial, exc)
            continue
        assert key is not None
        export = offline.export_root_key(key, _certificate_of(root), offline_dir)
        changes.root_exports.append(export)
        online_file = keystore.key_file_path(root.key_ref) if root.key_store == KeyStore.FILES else None
        SigningCredential.objects.filter(pk=root.pk).update(
            key_store=KeyStore.OFFLINE, key_ref=export.path.name, private_key=b""
        )
        if online_file is not None:
            transaction.on_commit(functools.partial(online_file.unlink, missing_ok=True))
        root.refresh_from_db()
        root_key = RootKey(fingerprint=root.fingerprint_sha256, key=key)
        if root.active:
            held = root_key
        elif root.not_after > clock.now():
            crl.issue_crl(root, root_key=root_key)
    return held
