"""Key and certificate management (motor standard §7.1.3 a–b): status, expiry warnings, rotation, revocation.

`credential_status()` lists every credential the platform has had; `expiry_warnings()` is what the staff
console and the health check show: each active certificate that expires within
settings.CERT_EXPIRY_WARNING_DAYS. The TSA's window is longer by settings.LTA_RENEW_BEFORE_DAYS: archive
timestamps are renewed that long before their TSA certificate expires, so the TSA must be rotated
before that, or renewals would be made with a certificate that itself needs renewing. They also list
each offline root CA whose CRL nears its nextUpdate (`pki.offline.offline_crl_warnings`, kind "crl"): only the
operator, with the root's offline key, can renew it.
Rotation is `pki.pki_rotate`, revocation `crl.revoke_certificate` (commands pki_rotate, pki_revoke).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings

from epolicy.common import clock

from .models import RevokedCertificate, SigningCredential

Role = SigningCredential.Role
_LABELS = dict(Role.choices)
_ROLE_ORDER = {role: n for n, role in enumerate(Role.values)}
# Rotating these needs the root CA's offline key (the root signs them, or is them).
_SIGNED_BY_ROOT = frozenset({Role.ROOT_CA, Role.ISSUING_CA, Role.CUSTOMER_CA, Role.TSA})


@dataclass(frozen=True)
class CredentialStatus:
    role: str
    role_label: str
    subject: str
    serial: str
    not_before: dt.datetime
    not_after: dt.datetime
    days_left: int
    active: bool
    revoked: bool
    key_store: str


@dataclass(frozen=True)
class ExpiryWarning:
    role: str
    subject: str
    serial: str
    not_after: dt.datetime
    days_left: int
    message_zh: str
    kind: str = "certificate"  # or "crl": the CRL of an offline root, renewed with its key


def _days_left(not_after: dt.datetime, now: dt.datetime) -> int:
    return (not_after - now) // dt.timedelta(days=1)


def credential_status(*, now: dt.datetime | None = None) -> list[CredentialStatus]:
    """Every credential (active first, by role), with its validity and days left."""
    now = now or clock.now()
    revoked = set(RevokedCertificate.objects.values_list("credential_id", flat=True))
    rows = sorted(
        SigningCredential.objects.all(),
        key=lambda c: (not c.active, _ROLE_ORDER.get(c.role, 99), -c.created_at.timestamp()),
    )
    return [
        CredentialStatus(
            role=c.role,
            role_label=_LABELS.get(c.role, c.role),
            subject=c.subject,
            serial=c.serial,
            not_before=c.not_before,
            not_after=c.not_after,
            days_left=_days_left(c.not_after, now),
            active=c.active,
            revoked=c.pk in revoked,
            key_store=c.key_store,
        )
        for c in rows
    ]


def warning_days(role: str) -> int:
    days: int = settings.CERT_EXPIRY_WARNING_DAYS
    if role == Role.TSA:
        days += settings.LTA_RENEW_BEFORE_DAYS
    return days


def expiry_warnings(*, now: dt.datetime | None = None) -> list[ExpiryWarning]:
    """Active certificates expiring within their warning window (or already expired), soonest first,
    then the offline roots whose CRL must be renewed with their key (`pki.offline.offline_crl_warnings`).
    """
    now = now or clock.now()
    warnings: list[ExpiryWarning] = []
    for cred in SigningCredential.objects.filter(active=True).order_by("not_after", "id"):
        days = _days_left(cred.not_after, now)
        window = warning_days(cred.role)
        if days > window:
            continue
        label = _LABELS.get(cred.role, cred.role)
        when = clock.local(cred.not_after).strftime("%Y-%m-%d")
        rotate = f"epolicy pki_rotate {cred.role}"
        if cred.role in _SIGNED_BY_ROOT:
            rotate += " --root-key <离线根密钥文件>"
        if days < 0:
            message = f"{label}证书已于 {when} 过期，请立即轮换：{rotate}。"
        elif cred.role == Role.TSA:
            message = (
                f"{label}证书将于 {when} 到期（剩余 {days} 天）。存档时间戳须在其到期前 "
                f"{settings.LTA_RENEW_BEFORE_DAYS} 天续期，请先轮换：{rotate}。"
            )
        else:
            message = f"{label}证书将于 {when} 到期（剩余 {days} 天），请及时轮换：{rotate}。"
        warnings.append(
            ExpiryWarning(
                role=cred.role,
                subject=cred.subject,
                serial=cred.serial,
                not_after=cred.not_after,
                days_left=days,
                message_zh=message,
            )
        )
    return warnings + _offline_crl_warnings(now)


def _offline_crl_warnings(now: dt.datetime) -> list[ExpiryWarning]:
    from . import pki

    warnings: list[ExpiryWarning] = []
    for item in pki.offline.offline_crl_warnings(now=now):
        ca = item.ca
        label = _LABELS.get(ca.role, ca.role)
        key_file = ca.key_ref or "root-ca-*.p8"
        command = f"携带离线根密钥文件 {key_file} 运行：epolicy crl_refresh --root-key <文件路径>"
        if item.next_update is None:
            message = f"{label}（离线）没有有效的 CRL，验证可能无法确认证书状态，请{command}。"
        elif item.days_left < 0:
            when = clock.local(item.next_update).strftime("%Y-%m-%d")
            message = f"{label}（离线）的 CRL 已于 {when} 过期，请立即{command}。"
        else:
            when = clock.local(item.next_update).strftime("%Y-%m-%d")
            message = f"{label}（离线）的 CRL 将于 {when} 到期（剩余 {item.days_left} 天），请{command}。"
        warnings.append(
            ExpiryWarning(
                role=ca.role,
                subject=ca.subject,
                serial=ca.serial,
                not_after=item.next_update or now,
                days_left=item.days_left,
                message_zh=message,
                kind="crl",
            )
        )
    return warnings
