"""Creating and rotating the development PKI: `pki_init` makes what is missing, `pki_rotate` replaces a role.

`pki_rotate` replaces a credential without breaking old documents (old certificates stay trusted); see
also `lifecycle`. A CA that is (re)created takes its descendants with it, and every CA then has a
current CRL (`crl`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from cryptography import x509
from django.db import transaction

from epolicy.common import clock

# The package itself, not `.loading`: `_renew` calls `pki._load_key` so that a test replacing it on the
# package (as `crl` calls it) replaces it here too, as it did when all of this was one module.
from .. import keystore, pki
from ..models import SigningCredential
from .certificates import BACKDATE, PrivateKey, Role, _build_certificate, _names, _store
from .loading import _certificate_of, clear_cache

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


def pki_init(*, force: bool = False) -> dict[str, str]:
    """Create the credentials that are missing (all of them with force=True); returns role -> subject created.

    A CA that is (re)created takes its descendants with it, so a chain never mixes generations. Old
    credentials are only deactivated, never deleted: documents signed with them must still verify.
    New keys go to the key store of settings.SIGNING_KEYSTORE (see `keystore`). Every CA then has a
    current CRL (see `crl`).
    """
    from .. import crl

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
    from .. import crl

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
                issuer_cert, issuer_key = _certificate_of(parent), pki._load_key(parent)
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
