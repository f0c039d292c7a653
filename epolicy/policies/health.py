"""Readiness checks of what issuing a policy needs from signing (epolicy.ops.health, /ops/ready).

Registered here rather than by the signing app: policies is the first app above signing whose work
stops without the seal. The answers name roles, key stores and days left; never a key, a path or a
passphrase.
"""

from __future__ import annotations

from django.conf import settings

from epolicy.ops.health import Outcome, fail, ok, register, warn


def check_signing_keys() -> Outcome:
    """The insurer's seal (and the platform's own TSA, when it is the one used) can be loaded to sign."""
    if settings.SIGNING_SERVICE_URL:
        # The keys live with the signing service (docs/signing-service.md); its own readiness covers them.
        return ok(mode="remote")
    from epolicy.signing import keystore
    from epolicy.signing.models import SigningCredential
    from epolicy.signing.pki.loading import load_credential

    roles = [SigningCredential.Role.SEAL]
    if not settings.TSA_URL:
        roles.append(SigningCredential.Role.TSA)
    stores: dict[str, str] = {}
    for role in roles:
        cred = load_credential(role)  # ApplicationError("pki_missing") without an active credential
        if cred.key_store == SigningCredential.KeyStore.PKCS11:
            keystore.signer_for_credential(cred)  # opens the token session and finds the key
        else:
            cred.require_key()
        stores[str(role)] = str(cred.key_store)
    return ok(mode="local", key_stores=stores)


def check_certificates() -> Outcome:
    """Certificates (seal, TSA, CAs) and offline roots' CRLs within their warning window; an expired
    seal or TSA certificate fails (nothing can be issued with it)."""
    from epolicy.signing.lifecycle import expiry_warnings
    from epolicy.signing.models import SigningCredential

    items = expiry_warnings()
    if not items:
        return ok(warning_days=settings.CERT_EXPIRY_WARNING_DAYS)
    listed = [
        {"role": w.role, "kind": w.kind, "days_left": w.days_left, "expires": w.not_after.date().isoformat()}
        for w in items
    ]
    blocking = {SigningCredential.Role.SEAL, SigningCredential.Role.TSA}
    if any(w.days_left < 0 and w.kind == "certificate" and w.role in blocking for w in items):
        return fail(error="certificate_expired", expiring=listed)
    return warn(warning_days=settings.CERT_EXPIRY_WARNING_DAYS, expiring=listed)


def register_checks() -> None:
    register("signing_keys", check_signing_keys)
    register("certificates", check_certificates)
