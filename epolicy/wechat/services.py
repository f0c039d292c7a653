"""The WeChat pages' writes: signing in through WeChat's web authorization, binding a person by ID number
and SMS code, unbinding (motor standard §6.1 b, §6.3.2: query, download and verification through the
insurer's official account).

Binding rules (docs/wechat.md):
- The person is an applicant or insured of a motor policy, named by their ID number; the SMS code goes
  to the phone of their newest Customer row on such a policy (the phone the insurer holds).
- Whether an ID number has a policy is never told: the same notice, cool-down and limits either way
  (a challenge is made for an unknown ID number too; its code is simply never sent).
- The code's challenge is tied to the openid and the ID number: a code read by someone else is no use in
  another WeChat.
- A snapshot-page user (is_snapshotuser) is refused at sign-in: nothing is ever bound to it.
"""

from __future__ import annotations

import logging
import secrets

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q

from epolicy.audit.services import audit_record
from epolicy.common import clock, crypto
from epolicy.common.errors import ApplicationError
from epolicy.common.request_meta import ClientInfo
from epolicy.identity import otp
from epolicy.identity.models import WeChatBinding
from epolicy.identity.providers.base import ProviderUnavailable
from epolicy.identity.providers.wechat import OAuthCodeRefused, WeChatIdentity, wechat_oauth_provider
from epolicy.identity.ratelimit import rate_limit_hit
from epolicy.identity.wechat import openid_index_of
from epolicy.parties.models import Customer
from epolicy.policies.models import Policy

log = logging.getLogger("epolicy.wechat")

BIND_PURPOSE = "wechat_bind"
BIND_OTP_EVENT = "motor.wechat_bind_otp"


def _limits() -> dict[str, int]:
    return settings.WECHAT_PAGES


def _who(openid: str) -> str:
    """How logs and the audit trail name an openid: a prefix of its blind index."""
    return "wechat:" + openid_index_of(openid)[:16]


# --- signing in ---------------------------------------------------------------------------------------
def new_state() -> str:
    """The OAuth `state`: random, a-zA-Z0-9 as WeChat allows, kept in the session and checked on return."""
    return secrets.token_hex(16)


def wechat_signin_url(*, redirect_uri: str, state: str, client: ClientInfo) -> str:
    """Where the browser goes to sign in (WeChat's consent screen, or the sandbox's)."""
    rate_limit_hit(bucket="wx_signin", client=client.client_key, limit=_limits()["signins_per_hour"])
    return wechat_oauth_provider().authorize_url(
        redirect_uri=redirect_uri, state=state, scope=str(settings.WECHAT.get("oauth_scope") or "snsapi_base")
    )


def wechat_signin_finish(*, code: str, state: str, expected_state: str, client: ClientInfo) -> WeChatIdentity:
    """Check the returned state against the session's, then swap the code for the openid."""
    rate_limit_hit(bucket="wx_callback", client=client.client_key, limit=_limits()["signins_per_hour"])
    if not expected_state or not secrets.compare_digest(state or "", expected_state):
        raise ApplicationError("wechat_state_invalid")
    if not code:
        raise ApplicationError("wechat_declined")
    try:
        identity = wechat_oauth_provider().exchange_code(code=code)
    except OAuthCodeRefused as exc:
        log.info("wechat sign-in: code refused (%s)", exc.code)
        raise ApplicationError("wechat_code_invalid", details={"wechat": exc.code}) from None
    except ProviderUnavailable as exc:
        log.warning("wechat sign-in: provider unavailable (%s)", exc.detail)
        raise exc.as_application_error() from None
    if identity.is_snapshotuser:
        raise ApplicationError("wechat_snapshot_user")
    return identity


def seal_openid(openid: str) -> str:
    """The openid as the session keeps it: encrypted (sessions are rows of the database)."""
    return crypto.encrypt(openid, context="wechat.session.openid")


def unseal_openid(sealed: str) -> str:
    return crypto.decrypt(sealed, context="wechat.session.openid")


# --- binding ------------------------------------------------------------------------------------------
def person_on_file(id_index: str) -> Customer | None:
    """The newest Customer row with this ID number (blind index) that is the applicant or insured of a
    motor policy: its phone is the one the insurer holds now."""
    # Only the people a policy names now (its applicant, its current insured): never a row from an
    # application that was not issued, whose phone nobody confirmed.
    on_policies = Q(pk__in=Policy.objects.values("applicant_id")) | Q(
        pk__in=Policy.objects.values("insured_id")
    )
    return Customer.objects.filter(on_policies, id_number_index=id_index).order_by("-pk").first()


def _subject(openid: str, id_index: str) -> str:
    return crypto.blind_index(f"{openid_index_of(openid)}:{id_index}", context="wechat_bind")


def wechat_bind_code_send(*, openid: str, id_number: str, client: ClientInfo) -> str:
    """Send a binding code to the phone on file of the person with this ID number, if there is one; the
    same outcome either way. Returns the ID number's blind index (what the session keeps until the code
    is entered)."""
    from epolicy.notifications.services import Recipient, notification_deliver_now, notify

    number = (id_number or "").strip().upper()
    if not number:
        raise ApplicationError("validation_error", "请输入证件号码。", {"field": "id_number"})
    limits = _limits()
    rate_limit_hit(bucket="wx_sms", client=openid_index_of(openid)[:64], limit=limits["sms_per_hour"])
    rate_limit_hit(bucket="wx_sms_ip", client=client.client_key, limit=limits["sms_per_hour"] * 4)
    id_index = Customer.id_index(number)
    person = person_on_file(id_index)
    # An unknown ID number gets a challenge too (keyed on a stand-in for the phone), so that cool-down,
    # limits and a wrong code answer exactly as for a known one; its code is never sent.
    phone = person.phone if person is not None else f"none:{id_index}"
    challenge, code = otp.otp_issue(
        purpose=BIND_PURPOSE, subject=_subject(openid, id_index), phone=phone, ip=client.ip
    )
    if person is not None:
        with transaction.atomic():
            notification = notify(
                event=BIND_OTP_EVENT,
                recipient=Recipient(phone=person.phone),
                context={"code": code, "valid_minutes": settings.OTP["ttl_seconds"] // 60},
                dedupe_key=f"otp:{challenge.pk}",
                actor=_who(openid),
            )
        notification_deliver_now(notification=notification)
    return id_index


def wechat_bind_verify(*, openid: str, id_index: str, code: str, client: ClientInfo) -> WeChatBinding:
    """Check the code sent for (this openid, this ID number) and bind the person; idempotent."""
    limits = _limits()
    rate_limit_hit(
        bucket="wx_bind", client=openid_index_of(openid)[:64], limit=limits["bind_attempts_per_hour"]
    )
    rate_limit_hit(bucket="wx_bind_ip", client=client.client_key, limit=limits["bind_attempts_per_hour"] * 3)
    if not id_index:
        raise ApplicationError("otp_invalid", "请先获取短信验证码。")
    otp.otp_check(purpose=BIND_PURPOSE, subject=_subject(openid, id_index), code=code)  # commits failures
    person = person_on_file(id_index)
    if person is None:  # a code of an unknown ID number is never sent: only a lucky guess gets here
        raise ApplicationError("wechat_bind_failed")
    index = openid_index_of(openid)
    with transaction.atomic():
        existing = WeChatBinding.objects.filter(
            openid_index=index, customer__id_number_index=id_index
        ).first()
        if existing is not None:
            return existing
        try:
            with transaction.atomic():
                binding = WeChatBinding.objects.create(openid=openid, customer=person, created_at=clock.now())
        except IntegrityError:  # the same code entered twice at once
            return WeChatBinding.objects.get(openid_index=index, customer=person)
        audit_record(
            action="wechat.bound",
            actor=_who(openid),
            subject_type="customer",
            subject_id=str(person.pk),
            data={"ip": client.ip or "", "method": "ID number + SMS code to the phone on file"},
        )
    return binding


def wechat_unbind(*, openid: str, client: ClientInfo) -> int:
    """Remove every binding of this openid; returns how many there were."""
    index = openid_index_of(openid)
    with transaction.atomic():
        customers = list(
            WeChatBinding.objects.filter(openid_index=index).values_list("customer_id", flat=True)
        )
        WeChatBinding.objects.filter(openid_index=index).delete()
        for customer_id in customers:
            audit_record(
                action="wechat.unbound",
                actor=_who(openid),
                subject_type="customer",
                subject_id=str(customer_id),
                data={"ip": client.ip or ""},
            )
    return len(customers)


def download_allowed(*, openid: str, client: ClientInfo) -> None:
    """Count one download of this openid (and address) against the hourly limit."""
    limit = _limits()["downloads_per_hour"]
    rate_limit_hit(bucket="wx_download", client=openid_index_of(openid)[:64], limit=limit)
    rate_limit_hit(bucket="wx_download_ip", client=client.client_key, limit=limit * 3)
