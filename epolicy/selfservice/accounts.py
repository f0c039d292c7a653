"""Signing in, binding policies and accepting the service agreement (life guide §6.1, §6.2.2.1, §6.2.2.3).

A customer signs in with a mobile number and an SMS code; binds a life policy by its number and the
applicant's name and ID number (the phone must be the one the policy holds, where codes for changes go);
and accepts the current version of the self-service agreement before the first change. Each step is
recorded: binding as archived evidence, acceptance with the version's SHA-256, time, IP and user agent.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import secrets

from django.conf import settings
from django.db import IntegrityError, transaction

from epolicy.archive.models import ArchivedObject
from epolicy.archive.services import archive_put
from epolicy.audit.services import audit_record
from epolicy.common import clock
from epolicy.common.errors import ApplicationError
from epolicy.common.identifiers import validate_phone
from epolicy.common.masking import mask_phone
from epolicy.common.request_meta import ClientInfo
from epolicy.documents.bundle import BundleDocument, text_document
from epolicy.identity import otp
from epolicy.identity.ratelimit import rate_limit_hit
from epolicy.parties.models import Customer
from epolicy.servicing.models import LifePolicy

from .models import AgreementAcceptance, ApiSession, LifeCustomer, PolicyBinding

LOGIN_PURPOSE = "life_login"
API_SESSION_LIFETIME = dt.timedelta(hours=2)
BINDING_FAILED = (
    "保单信息与您的身份信息不匹配，或您登录的手机号不是该保单预留的手机号。请核对后重试，或联系客服。"
)


def _phone_index(phone: str) -> str:
    return Customer.phone_index_of(phone)


def send_sms_code(*, phone: str, purpose: str, subject: str, what: str, client: ClientInfo) -> str:
    """Issue an OTP for (purpose, subject) and send it to `phone` (the `life.otp` event); return the
    masked phone. `what` completes "用于…" in the message."""
    from epolicy.notifications.services import Recipient, notification_deliver_now, notify

    challenge, code = otp.otp_issue(purpose=purpose, subject=subject, phone=phone, ip=client.ip)
    with transaction.atomic():
        notification = notify(
            event="life.otp",
            recipient=Recipient(phone=phone),
            context={"code": code, "purpose": what, "valid_minutes": settings.OTP["ttl_seconds"] // 60},
            dedupe_key=f"otp:{challenge.pk}",
            actor=f"otp:{purpose}",
        )
    # A code is wanted now, not when a worker gets to it (the outbox still retries a failed send).
    notification_deliver_now(notification=notification)
    return mask_phone(phone)


# --- signing in ---------------------------------------------------------------------------------------
def login_code_send(*, phone: str, client: ClientInfo) -> str:
    """Send a sign-in code to `phone` (limits per phone and per address: settings.OTP)."""
    phone = validate_phone(phone, field="phone")
    return send_sms_code(
        phone=phone,
        purpose=LOGIN_PURPOSE,
        subject=_phone_index(phone),
        what="登录保单自助服务",
        client=client,
    )


def login_verify(*, phone: str, code: str, client: ClientInfo) -> LifeCustomer:
    """Check the sign-in code; the customer account of this phone (made on first sign-in)."""
    phone = validate_phone(phone, field="phone")
    index = _phone_index(phone)
    otp.otp_check(purpose=LOGIN_PURPOSE, subject=index, code=code)  # commits failed attempts itself
    now = clock.now()
    with transaction.atomic():
        customer = LifeCustomer.objects.select_for_update().filter(phone_index=index).first()
        if customer is None:
            try:
                with transaction.atomic():
                    customer = LifeCustomer.objects.create(phone=phone, phone_index=index, created_at=now)
            except IntegrityError:  # two first sign-ins at once
                customer = LifeCustomer.objects.select_for_update().get(phone_index=index)
        if not customer.wechat_openid and _wechat_is_sandbox():
            # The sandbox stands in for the WeChat sign-in (issue of the WeChat channel): an openid to
            # which the sandbox account "sends" template messages.
            customer.wechat_openid = "sandbox-" + secrets.token_urlsafe(12)
        customer.last_login_at = now
        customer.save()
        audit_record(
            action="selfservice.signed_in",
            actor=f"life_customer:{customer.pk}",
            subject_type="life_customer",
            subject_id=str(customer.pk),
            data={"phone": mask_phone(phone), "ip": client.ip or ""},
        )
    return customer


def _wechat_is_sandbox() -> bool:
    return ".sandbox." in settings.PROVIDERS.get("wechat", "")


def api_session_create(*, customer: LifeCustomer) -> str:
    """A bearer token for the self-service API (shown once; only its SHA-256 is kept)."""
    token = secrets.token_urlsafe(32)
    now = clock.now()
    ApiSession.objects.create(
        customer=customer,
        token_hash=hashlib.sha256(token.encode()).hexdigest(),
        created_at=now,
        expires_at=now + API_SESSION_LIFETIME,
    )
    return token


def api_session_customer(token: str) -> LifeCustomer | None:
    if not token:
        return None
    session = (
        ApiSession.objects.select_related("customer")
        .filter(
            token_hash=hashlib.sha256(token.encode()).hexdigest(),
            revoked_at__isnull=True,
            expires_at__gt=clock.now(),
        )
        .first()
    )
    return session.customer if session is not None else None


def api_session_revoke(token: str) -> None:
    ApiSession.objects.filter(token_hash=hashlib.sha256(token.encode()).hexdigest()).update(
        revoked_at=clock.now()
    )


# --- binding ------------------------------------------------------------------------------------------
def policy_bind(
    *, customer: LifeCustomer, policy_number: str, name: str, id_number: str, client: ClientInfo
) -> PolicyBinding:
    """Bind a policy by its number and the applicant's name and ID number (§6.2.2.1).

    One vague refusal for any mismatch (which part was wrong is not said), limited per customer and per
    address; the customer's sign-in phone must be the phone the policy holds.
    """
    limits = settings.SELFSERVICE["binding_attempts_per_hour"]
    rate_limit_hit(bucket="life_bind", client=f"c{customer.pk}", limit=limits)
    rate_limit_hit(bucket="life_bind_ip", client=client.client_key, limit=limits * 3)
    number = (policy_number or "").strip().upper()
    policy = LifePolicy.objects.filter(number=number).first()
    matches = (
        policy is not None
        and bool(policy.applicant_id_index)
        and hmac.compare_digest(policy.applicant_id_index, Customer.id_index((id_number or "").strip()))
        and policy.applicant_name.replace(" ", "") == (name or "").strip().replace(" ", "")
        and bool(policy.applicant_phone_index)
        and hmac.compare_digest(policy.applicant_phone_index, customer.phone_index)
    )
    if not matches:
        audit_record(
            action="selfservice.binding_refused",
            actor=f"life_customer:{customer.pk}",
            subject_type="life_customer",
            subject_id=str(customer.pk),
            data={"ip": client.ip or ""},
        )
        raise ApplicationError("life_binding_failed", BINDING_FAILED, {"field": "policy_number"})
    assert policy is not None
    existing = PolicyBinding.objects.filter(customer=customer, policy=policy).first()
    if existing is not None:
        return existing
    now = clock.now()
    evidence = {
        "policy_number": policy.number,
        "customer": customer.pk,
        "phone": mask_phone(customer.phone),
        "method": "policy number + applicant's name + ID number + the policy's phone",
        "bound_at": now.isoformat(),
        "ip": client.ip,
        "user_agent": client.user_agent,
    }
    with transaction.atomic():
        obj = archive_put(
            data=json.dumps(evidence, ensure_ascii=False, sort_keys=True).encode(),
            kind=ArchivedObject.Kind.EVIDENCE,
            name=f"{policy.number}-binding-{customer.pk}",
            content_type="application/json",
            subject=policy,
        )
        binding = PolicyBinding.objects.create(
            customer=customer,
            policy=policy,
            bound_at=now,
            ip=client.ip,
            user_agent=client.user_agent,
            evidence=obj,
        )
        audit_record(
            action="selfservice.policy_bound",
            actor=f"life_customer:{customer.pk}",
            subject_type="life_policy",
            subject_id=policy.number,
            data={"evidence_sha256": obj.sha256},
        )
    return binding


def bound_policy(*, customer: LifeCustomer, policy_number: str) -> LifePolicy:
    """A policy bound to this customer; any other number (bound to someone else or not at all) is
    the same not_found."""
    binding = (
        PolicyBinding.objects.select_related("policy")
        .filter(customer=customer, policy__number=(policy_number or "").strip().upper())
        .first()
    )
    if binding is None:
        raise ApplicationError("not_found", "您没有绑定这张保单。请先在“我的保单”中绑定。")
    return binding.policy


# --- the agreement ----------------------------------------------------------------------------------------
def agreement_current() -> BundleDocument:
    """The self-service agreement in force (texts/agreement.md, versioned; its SHA-256 is recorded)."""
    return text_document("epolicy.selfservice", "agreement")


def agreement_accepted(customer: LifeCustomer) -> bool:
    doc = agreement_current()
    return AgreementAcceptance.objects.filter(
        customer=customer, version=doc.version, sha256=doc.sha256
    ).exists()


def agreement_accept(
    *, customer: LifeCustomer, version: str, sha256: str, client: ClientInfo
) -> AgreementAcceptance:
    """Record the acceptance of exactly the version shown (a stale page is refused: read it again)."""
    doc = agreement_current()
    if version != doc.version or sha256 != doc.sha256:
        raise ApplicationError(
            "life_agreement_changed", "服务协议已更新，请阅读最新版本后再确认。", {"version": doc.version}
        )
    with transaction.atomic():
        acceptance, created = AgreementAcceptance.objects.get_or_create(
            customer=customer,
            version=doc.version,
            sha256=doc.sha256,
            defaults={"accepted_at": clock.now(), "ip": client.ip, "user_agent": client.user_agent},
        )
        if created:
            audit_record(
                action="selfservice.agreement_accepted",
                actor=f"life_customer:{customer.pk}",
                subject_type="life_customer",
                subject_id=str(customer.pk),
                data={"version": doc.version, "sha256": doc.sha256, "ip": client.ip or ""},
            )
    return acceptance


def require_agreement(customer: LifeCustomer) -> None:
    if not agreement_accepted(customer):
        raise ApplicationError("life_agreement_required")
