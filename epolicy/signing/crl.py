"""Revocation: each CA of the platform PKI publishes CRLs, kept in the database.

Every CA (root, issuing CA, customer CA; active or rotated out, as long as its certificate is valid)
has a current CRL: complete (no deltas), listing every certificate it ever revoked. An online CA's
CRL has a nextUpdate CRL_VALIDITY after its thisUpdate and is reissued when it has less than
CRL_REFRESH_BEFORE left (`ensure_fresh_crls`, run by signing, verification, `lta_extend` and the
`crl_refresh` task) and at once when a certificate is revoked (`revoke_certificate`, `epolicy
pki_revoke`).

The root CA is offline (`pki.offline`): its CRL is signed only when the operator brings its key
(`root_key`), and is valid for `pki.offline.root_crl_validity()` (a year by default), as an offline
root's CRL is. The automatic refresh leaves it alone; `pki.offline.offline_crl_warnings` (shown by
`crl_refresh`, `pki_status` and the staff console through `lifecycle.expiry_warnings`) says when it
must be renewed (`pki.offline.renew_offline_crl`, `epolicy crl_refresh --root-key FILE`). A retired
root's last CRL runs until the root certificate expires, so it never needs renewing.

The verifier uses these CRLs (and those in a document's DSS) offline. A CRL issued after a signature
still proves the status at signing time (it lists revocation dates), so verification accepts CRLs
issued later than the moment it checks ("retroactive"): a certificate revoked after the signing time
leaves documents signed before valid; one revoked before makes them `revoked`.

The newest CRL of every CA is also public, at the URL the certificates it issued name
(`published_crl`, served by `views.crl_view`; see `repository`).

`ocsp_respond` answers OCSP requests from the same data, for relying parties that prefer OCSP.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import threading
from dataclasses import dataclass

from asn1crypto import crl as asn1_crl
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp
from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import Max, Q

from epolicy.common import clock

from . import keystore, pki
from .models import CertificateRevocationList, RevokedCertificate, SigningCredential

logger = logging.getLogger(__name__)

Role = SigningCredential.Role
Reason = RevokedCertificate.Reason
CA_ROLES = (Role.ROOT_CA, Role.ISSUING_CA, Role.CUSTOMER_CA)
CRL_VALIDITY = dt.timedelta(days=7)
CRL_REFRESH_BEFORE = dt.timedelta(days=3)
OCSP_VALIDITY = dt.timedelta(hours=12)

_REASON_FLAGS: dict[str, x509.ReasonFlags | None] = {
    Reason.UNSPECIFIED: None,  # RFC 5280 5.3.1: leave the reason code out rather than say "unspecified"
    Reason.KEY_COMPROMISE: x509.ReasonFlags.key_compromise,
    Reason.CA_COMPROMISE: x509.ReasonFlags.ca_compromise,
    Reason.AFFILIATION_CHANGED: x509.ReasonFlags.affiliation_changed,
    Reason.SUPERSEDED: x509.ReasonFlags.superseded,
    Reason.CESSATION_OF_OPERATION: x509.ReasonFlags.cessation_of_operation,
}


class RevocationError(Exception):
    """A revocation request that cannot be carried out (unknown serial, ambiguous issuer...)."""


# ---------------------------------------------------------------------------------------------------------
# Issuing CRLs


def issue_crl(ca: SigningCredential, *, root_key: pki.RootKey | None = None) -> CertificateRevocationList:
    """Issue and store a new CRL of `ca` listing everything it revoked (caller may hold a transaction).

    An offline CA (the root) signs with `root_key` (RootKeyRequired without it); its CRL runs for
    `root_crl_validity()`, or, once the root is retired (inactive), until its certificate expires.
    """
    if ca.role not in CA_ROLES:
        raise ValueError(f"credential {ca.pk} ({ca.role}) is not a CA")
    now = clock.now()
    if now >= ca.not_after:
        raise RevocationError(f"CA certificate {ca.serial} has expired; an expired CA issues no CRLs")
    with transaction.atomic():
        # Serialises issuers of this CA's CRLs, so CRL numbers increase without gaps or repeats.
        ca = SigningCredential.objects.select_for_update().get(pk=ca.pk)
        if pki.offline.is_offline(ca):
            key = pki.offline.signing_key(ca, root_key, "sign its CRL")
            validity = pki.offline.root_crl_validity() if ca.active else ca.not_after - now
        else:
            key = pki._load_key(ca)
            validity = CRL_VALIDITY
        last = ca.crls.order_by("-number").values_list("number", flat=True).first()
        number = (last or 0) + 1
        ca_cert = x509.load_der_x509_certificate(bytes(ca.certificate))
        ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        next_update = min(now + validity, ca.not_after)
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(ca_cert.subject)
            .last_update(now)
            .next_update(next_update)
            .add_extension(x509.CRLNumber(number), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False
            )
        )
        revoked = list(ca.revocations.order_by("revoked_at", "id"))
        for entry in revoked:
            item = (
                x509.RevokedCertificateBuilder()
                .serial_number(int(entry.serial, 16))
                .revocation_date(entry.revoked_at)
            )
            flag = _REASON_FLAGS.get(entry.reason)
            if flag is not None:
                item = item.add_extension(x509.CRLReason(flag), critical=False)
            builder = builder.add_revoked_certificate(item.build())
        crl = builder.sign(key, hashes.SHA256())
        return CertificateRevocationList.objects.create(
            issuer=ca,
            number=number,
            this_update=now,
            next_update=next_update,
            der=crl.public_bytes(serialization.Encoding.DER),
            entries=len(revoked),
        )


def latest_crls() -> list[CertificateRevocationList]:
    """The newest stored CRL of every CA (expired CAs included), without issuing anything."""
    newest = (
        CertificateRevocationList.objects.values("issuer_id")
        .annotate(number=Max("number"))
        .order_by("issuer_id")
    )
    wanted = Q(pk__in=[])
    for row in newest:
        wanted |= Q(issuer_id=row["issuer_id"], number=row["number"])
    return list(
        CertificateRevocationList.objects.filter(wanted).select_related("issuer").order_by("issuer_id")
    )


def ensure_fresh_crls(*, root_key: pki.RootKey | None = None) -> list[CertificateRevocationList]:
    """The current CRL of every CA, reissuing those that are missing or close to their nextUpdate.

    CAs whose certificate has expired issue nothing more; their last CRL is returned as it is. A CA
    whose key this process cannot use (files or token elsewhere) keeps its last CRL too; the verifier
    then reports what it can prove with it. An offline CA (the root) is left alone unless its key is
    brought as `root_key`: its CRL is then reissued if missing or within its warning window.
    """
    now = clock.now()
    by_issuer = {row.issuer_id: row for row in latest_crls()}
    offline_due = dt.timedelta(days=pki.offline.root_crl_warning_days())
    for ca in (
        SigningCredential.objects.filter(role__in=CA_ROLES, not_after__gt=now)
        .exclude(key_store=SigningCredential.KeyStore.EXTERNAL)  # an outside CA issues its own CRLs
        .order_by("created_at", "id")
    ):
        latest = by_issuer.get(ca.pk)
        if pki.offline.is_offline(ca):
            if root_key is None or not root_key.for_credential(ca):
                continue  # renewed by hand; `pki.offline.offline_crl_warnings` says when
            if latest is not None and (
                pki.offline.is_final(latest) or latest.next_update - now > offline_due
            ):
                continue
        elif latest is not None and latest.next_update - now >= CRL_REFRESH_BEFORE:
            continue
        try:
            by_issuer[ca.pk] = issue_crl(ca, root_key=root_key)
        except IntegrityError:
            fresh = ca.crls.order_by("-number").first()  # another process issued one just now
            if fresh is not None:
                by_issuer[ca.pk] = fresh
        except (keystore.KeyUnavailable, RevocationError) as exc:
            logger.warning("CRL of %s not reissued: %s", ca.subject, exc)
    return list(by_issuer.values())


def refresh_crls() -> list[CertificateRevocationList]:
    """The scheduled CRL job: `ensure_fresh_crls` without any offline key, logging what needs one."""
    rows = ensure_fresh_crls()
    if pki.external.refresh_external_crls():
        rows = latest_crls()
    for warning in pki.offline.offline_crl_warnings():
        logger.warning("%s", warning.message)
    return rows


_parsed: dict[bytes, asn1_crl.CertificateList] = {}
_parsed_lock = threading.Lock()


def as_asn1(row: CertificateRevocationList) -> asn1_crl.CertificateList:
    """A stored CRL parsed for pyHanko (cached per process by content: parsing every field takes a while)."""
    der = bytes(row.der)
    key = hashlib.sha256(der).digest()
    parsed = _parsed.get(key)
    if parsed is None:
        parsed = asn1_crl.CertificateList.load(der)
        parsed.native  # noqa: B018 - parse once
        with _parsed_lock:
            if len(_parsed) > 256:
                _parsed.clear()
            _parsed[key] = parsed
    return parsed


def _refreshed_crls() -> list[CertificateRevocationList] | None:
    """`ensure_fresh_crls`, or None when the database refuses the write (a read-only replica)."""
    try:
        with transaction.atomic():
            return ensure_fresh_crls()
    except DatabaseError as exc:
        logger.warning("CRLs not refreshed: %r", exc)
        return None


def current_crls_asn1(*, refresh: bool = True) -> list[asn1_crl.CertificateList]:
    """The CRLs a verifier should use: the newest of every CA (reissued first when stale, if refresh).

    A database that refuses the write (a read-only replica) leaves the stored CRLs as they are.
    """
    rows = _refreshed_crls() if refresh else None
    if rows is None:
        rows = latest_crls()
    return [as_asn1(row) for row in rows]


def published_crl(ca: SigningCredential) -> CertificateRevocationList | None:
    """The newest CRL of `ca` for the public repository (`repository`), reissued first when stale.

    What this process cannot reissue (a read-only database, a CA key kept on another machine, the
    offline root) is served as last issued; None only when the CA never issued a CRL. A fresh CRL is
    served without a write transaction (on SQLite every transaction here takes the database's write lock).
    """
    newest = ca.crls.order_by("-number").first()
    if pki.offline.is_offline(ca):
        return newest  # only the operator, with its key, issues the next one
    if newest is None or newest.next_update - clock.now() < CRL_REFRESH_BEFORE:
        _refreshed_crls()
        newest = ca.crls.order_by("-number").first()
    return newest


# ---------------------------------------------------------------------------------------------------------
# Revoking


def _issuer_of(cert: x509.Certificate) -> SigningCredential | None:
    for ca in SigningCredential.objects.filter(role__in=CA_ROLES).order_by("-created_at", "-id"):
        ca_cert = x509.load_der_x509_certificate(bytes(ca.certificate))
        if ca_cert.subject == cert.issuer and pki._issued_by(cert, ca_cert):
            return ca
    return None


def revoke_certificate(
    *,
    serial: str,
    reason: str = Reason.UNSPECIFIED,
    revoked_at: dt.datetime | None = None,
    issuer_role: str | None = None,
    actor: str = "system",
    root_key: pki.RootKey | None = None,
) -> RevokedCertificate:
    """Revoke a certificate by serial (hex) and reissue its CA's CRL at once.

    A serial of one of our credentials finds its issuer itself and deactivates the credential; an
    applicant's event certificate (not stored) needs `issuer_role` (normally "customer_ca", the active
    customer CA). `revoked_at` defaults to now; an earlier time (key compromise found later) also
    invalidates what was signed since then. A certificate the root issued (an issuing CA, customer CA
    or the TSA) needs the root's offline key as `root_key`: RootKeyRequired, and nothing changes, without.
    """
    from epolicy.audit.services import audit_record

    if reason not in Reason.values:
        raise RevocationError(f"unknown reason {reason!r}; one of {', '.join(Reason.values)}")
    serial = serial.lower().removeprefix("0x").lstrip("0") or "0"
    try:
        int(serial, 16)
    except ValueError as exc:
        raise RevocationError(f"serial {serial!r} is not hexadecimal") from exc
    when = revoked_at or clock.now()
    with transaction.atomic():
        credential = SigningCredential.objects.select_for_update().filter(serial=serial).first()
        issuer: SigningCredential | None
        if credential is not None:
            cert = x509.load_der_x509_certificate(bytes(credential.certificate))
            if cert.issuer == cert.subject:
                raise RevocationError("a root CA cannot be revoked by a CRL: remove it from the trust roots")
            issuer = _issuer_of(cert)
        elif issuer_role is not None:
            if issuer_role not in CA_ROLES:
                raise RevocationError(f"issuer role must be one of {', '.join(CA_ROLES)}")
            issuer = SigningCredential.active_for(issuer_role)
        else:
            raise RevocationError(
                f"no credential has serial {serial}; "
                "for an event certificate give the issuer role (customer_ca)"
            )
        if issuer is None:
            raise RevocationError(f"the issuing CA of {serial} is not one of the platform's CAs")
        if pki.offline.is_offline(issuer):
            pki.offline.signing_key(issuer, root_key, f"revoke {serial}, a certificate it issued")
        entry, created = RevokedCertificate.objects.get_or_create(
            issuer=issuer,
            serial=serial,
            defaults={"credential": credential, "revoked_at": when, "reason": reason},
        )
        if not created:
            raise RevocationError(
                f"certificate {serial} was already revoked at {entry.revoked_at:%Y-%m-%d %H:%M}"
            )
        if credential is not None and credential.active:
            credential.active = False
            credential.deactivated_at = clock.now()
            credential.save(update_fields=["active", "deactivated_at"])
        crl = issue_crl(issuer, root_key=root_key)
        audit_record(
            action="pki.certificate_revoked",
            actor=actor,
            subject_type="certificate",
            subject_id=serial,
            data={
                "issuer": issuer.subject,
                "reason": reason,
                "revoked_at": when.isoformat(),
                "role": credential.role if credential is not None else "event",
                "crl_number": crl.number,
            },
        )
    pki.clear_cache()
    return entry


# ---------------------------------------------------------------------------------------------------------
# Looking up a status (used by the verifier for TSA certificates, and by the OCSP responder)


@dataclass(frozen=True)
class Revocation:
    revoked_at: dt.datetime
    reason: str


def revocation_in_crls(
    serial_number: int, issuer_name_der: bytes, crls: list[asn1_crl.CertificateList]
) -> Revocation | None:
    """The earliest revocation of a certificate listed in any of `crls` of its issuer, if any.

    The CRLs must already be known to come from that issuer (the verifier checks their signatures).
    """
    found: Revocation | None = None
    for crl in crls:
        tbs = crl["tbs_cert_list"]
        if tbs["issuer"].dump() != issuer_name_der:
            continue
        for entry in tbs["revoked_certificates"]:
            if entry["user_certificate"].native != serial_number:
                continue
            when = entry["revocation_date"].native
            reason = entry.crl_reason_value.native if entry.crl_reason_value is not None else "unspecified"
            if found is None or when < found.revoked_at:
                found = Revocation(revoked_at=when, reason=str(reason))
    return found


def ocsp_respond(request_der: bytes) -> bytes:
    """Answer an OCSP request (RFC 6960, DER) about a certificate of one of our CAs, signed by that CA."""
    try:
        request = ocsp.load_der_ocsp_request(request_der)
    except ValueError:
        return ocsp.OCSPResponseBuilder.build_unsuccessful(
            ocsp.OCSPResponseStatus.MALFORMED_REQUEST
        ).public_bytes(serialization.Encoding.DER)
    now = clock.now()
    for ca in SigningCredential.objects.filter(role__in=CA_ROLES):
        ca_cert = x509.load_der_x509_certificate(bytes(ca.certificate))
        name_hash = hashes.Hash(request.hash_algorithm)
        name_hash.update(ca_cert.subject.public_bytes())
        key_hash = hashes.Hash(request.hash_algorithm)
        key_hash.update(_public_key_bits(ca_cert))
        if name_hash.finalize() != request.issuer_name_hash or key_hash.finalize() != request.issuer_key_hash:
            continue
        serial = format(request.serial_number, "x")
        entry = ca.revocations.filter(serial=serial).first()
        status = ocsp.OCSPCertStatus.REVOKED if entry is not None else ocsp.OCSPCertStatus.GOOD
        builder = ocsp.OCSPResponseBuilder().add_response_by_hash(
            issuer_name_hash=request.issuer_name_hash,
            issuer_key_hash=request.issuer_key_hash,
            serial_number=request.serial_number,
            algorithm=request.hash_algorithm,
            cert_status=status,
            this_update=now,
            next_update=now + OCSP_VALIDITY,
            revocation_time=entry.revoked_at if entry is not None else None,
            revocation_reason=_REASON_FLAGS.get(entry.reason) if entry is not None else None,
        )
        builder = builder.responder_id(ocsp.OCSPResponderEncoding.HASH, ca_cert)
        try:
            response = builder.sign(pki._load_key(ca), hashes.SHA256())
        except keystore.KeyUnavailable:
            break
        return response.public_bytes(serialization.Encoding.DER)
    return ocsp.OCSPResponseBuilder.build_unsuccessful(ocsp.OCSPResponseStatus.UNAUTHORIZED).public_bytes(
        serialization.Encoding.DER
    )


def _public_key_bits(cert: x509.Certificate) -> bytes:
    from asn1crypto import x509 as asn1_x509

    info = asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER)).public_key
    # The hash covers the BIT STRING's value, without its leading unused-bits octet (RFC 6960 4.1.1).
    bits: bytes = info["public_key"].contents[1:]
    return bits
