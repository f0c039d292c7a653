"""SMS verification codes (motor standard 4.2.4 d: 投保短信验证 before payment).

Six digits, stored as a keyed hash, valid 5 minutes, a limited number of attempts, a resend cool-down,
and hourly limits per phone and per client IP. Figures live in settings.OTP.
"""

from __future__ import annotations

import datetime as dt
import hmac
import secrets

from django.conf import settings
from django.db import transaction

from epolicy.common import clock, crypto
from epolicy.common.errors import ApplicationError
from epolicy.common.proxies import counted_address
from epolicy.ops.metrics import otp_failed

from .models import OtpChallenge


def _hash(code: str, challenge_subject: str) -> str:
    return crypto.blind_index(f"{challenge_subject}:{code}", context="otp")


def otp_issue(*, purpose: str, subject: str, phone: str, ip: str | None) -> tuple[OtpChallenge, str]:
    """Create a challenge and return it with the clear code (for the SMS text only; never stored).

    The per-client limit counts by `proxies.counted_address` (an IPv6 client by its /64, whose other
    addresses cost it nothing), as every per-client limit does; that address is what the challenge keeps.
    """
    cfg = settings.OTP
    ip = counted_address(ip) if ip else None
    now = clock.now()
    phone_index = crypto.blind_index(phone, context="phone")
    with transaction.atomic():
        last = OtpChallenge.objects.filter(purpose=purpose, subject=subject).order_by("-created_at").first()
        cooldown = dt.timedelta(seconds=cfg["resend_cooldown_seconds"])
        if last is not None and last.verified_at is None and now - last.created_at < cooldown:
            wait = int((cooldown - (now - last.created_at)).total_seconds()) + 1
            raise ApplicationError(
                "otp_cooldown", f"验证码已发送，请 {wait} 秒后再重新获取。", {"retry_after_seconds": wait}
            )
        hour_ago = now - dt.timedelta(hours=1)
        if (
            OtpChallenge.objects.filter(phone_index=phone_index, created_at__gte=hour_ago).count()
            >= cfg["max_per_phone_per_hour"]
        ):
            raise ApplicationError("rate_limited", "该手机号获取验证码次数过多，请一小时后再试。")
        if (
            ip
            and OtpChallenge.objects.filter(ip=ip, created_at__gte=hour_ago).count()
            >= cfg["max_per_ip_per_hour"]
        ):
            raise ApplicationError("rate_limited", "当前网络获取验证码次数过多，请稍后再试。")
        code = "".join(secrets.choice("0123456789") for _ in range(cfg["length"]))
        challenge = OtpChallenge.objects.create(
            purpose=purpose,
            subject=subject,
            phone_index=phone_index,
            ip=ip,
            code_hash=_hash(code, subject),
            created_at=now,
            expires_at=now + dt.timedelta(seconds=cfg["ttl_seconds"]),
        )
    return challenge, code


def otp_check(*, purpose: str, subject: str, code: str) -> OtpChallenge:
    """Check a code against the newest challenge; a wrong code uses up one attempt (kept on failure).

    Call it outside any enclosing transaction: the failed attempt is committed before the refusal.
    Each refusal is counted by its code (epolicy_otp_failures_total).
    """
    try:
        return _otp_check(purpose=purpose, subject=subject, code=code)
    except ApplicationError as exc:
        otp_failed(exc.code)
        raise


def _otp_check(*, purpose: str, subject: str, code: str) -> OtpChallenge:
    cfg = settings.OTP
    code = (code or "").strip()
    with transaction.atomic():
        challenge = (
            OtpChallenge.objects.select_for_update()
            .filter(purpose=purpose, subject=subject, verified_at__isnull=True)
            .order_by("-created_at")
            .first()
        )
        if challenge is None:
            raise ApplicationError("otp_invalid", "请先获取短信验证码。")
        if clock.now() > challenge.expires_at:
            raise ApplicationError("otp_expired")
        if challenge.attempts >= cfg["max_attempts"]:
            raise ApplicationError("otp_locked")
        if not (len(code) == cfg["length"] and code.isdigit()):
            raise ApplicationError("otp_invalid", details={"field": "code"})
        if not hmac.compare_digest(challenge.code_hash, _hash(code, subject)):
            challenge.attempts += 1
            challenge.save(update_fields=["attempts"])
            left = cfg["max_attempts"] - challenge.attempts
            # The failed attempt must stay counted: leave the transaction (committing it), then raise.
            error = ApplicationError(
                "otp_invalid" if left > 0 else "otp_locked",
                f"验证码不正确，还可尝试 {left} 次。" if left > 0 else None,
                {"field": "code", "attempts_left": left},
            )
        else:
            challenge.verified_at = clock.now()
            challenge.save(update_fields=["verified_at"])
            return challenge
    raise error
