"""The applicant's steps on an endorsement request, each checked on the server in order: the
e-signature on the request, the SMS code, the real-name check and the new owner's consent where the
change needs them (data: products/data/motor_endorsements.yaml), and the payment of an additional
premium. `missing_steps` says what is still owed."""

from __future__ import annotations

import datetime as dt
import hashlib

from django.conf import settings
from django.db import transaction

from epolicy.archive.models import ArchivedObject
from epolicy.archive.services import archive_put, retention_until
from epolicy.audit.services import audit_record
from epolicy.common import clock, crypto
from epolicy.common.errors import ApplicationError
from epolicy.common.identifiers import validate_bank_card, validate_phone
from epolicy.common.masking import mask_bank_card, mask_phone
from epolicy.common.providers import get_provider
from epolicy.common.request_meta import ClientInfo
from epolicy.documents.signature_image import check_signature_png
from epolicy.identity import otp
from epolicy.identity.ratelimit import rate_limit_hit
from epolicy.products.motor_endorsements import endorsement_catalogue
from epolicy.signing.lta import lta_extend
from epolicy.signing.signers import sign_application

from ..models import Endorsement
from . import documents
from .access import send_code
from .state import current_view

OTP_PURPOSE = "motor_endorsement"
CONSENT_PURPOSE = "motor_transfer_consent"
CHECK_VALID_FOR = dt.timedelta(minutes=30)


# --- the applicant's signature on the request -------------------------------------------------------------
def locked_endorsement(number: str) -> Endorsement:
    found = (
        Endorsement.objects.select_for_update(of=("self",))
        .select_related("policy", "policy__applicant")
        .filter(number=number)
        .first()
    )
    if found is None:
        raise ApplicationError("not_found", "没有这个批改申请。")
    return found


def require_open_today(e: Endorsement) -> None:
    if e.status == Endorsement.Status.APPLIED:
        raise ApplicationError("endorsement_state", "该批改已生效，无需重复办理。")
    if e.status == Endorsement.Status.WITHDRAWN:
        raise ApplicationError("endorsement_state", "该批改申请已撤回，请重新申请。")
    if e.quoted_on != clock.today():
        raise ApplicationError("endorsement_expired")


def endorsement_sign(*, number: str, signature: str, client: ClientInfo) -> Endorsement:
    """The applicant signs the request (one-use event certificate, PAdES, drawn strokes), archived."""
    rate_limit_hit(
        bucket="signature", client=client.client_key, limit=settings.SIGNATURE_MAX_PER_CLIENT_PER_HOUR
    )
    png = check_signature_png(signature)
    with transaction.atomic():
        e = locked_endorsement(number)
        require_open_today(e)
        if e.status != Endorsement.Status.REQUESTED:
            raise ApplicationError("endorsement_state", "批改申请已签名，无需重复签名。")
        policy = e.policy
        rendered = documents.render_request(e, current_view(policy))
        signed = sign_application(
            rendered.pdf,
            box=rendered.signature_box,
            signer_name=policy.applicant.name,
            subject_serial=policy.applicant.id_number_index[:32],
            signature_png=png,
            reason="投保人确认批改申请",
        )
        e.signed_request = archive_put(
            data=lta_extend(signed.pdf),
            kind=ArchivedObject.Kind.EVIDENCE,
            name=f"{e.number}-request",
            subject=policy,
            retention=retention_until(policy.period_start, policy.period_end),
        )
        e.status = Endorsement.Status.SIGNED
        e.signed_at = signed.signed_at
        e.save(update_fields=["signed_request", "status", "signed_at"])
        audit_record(
            action="endorsement.signed",
            actor=f"customer:{policy.number}",
            subject_type="policy",
            subject_id=policy.number,
            data={
                "endorsement": e.number,
                "signed_sha256": e.signed_request.sha256,
                "certificate_serial": signed.certificate_serial,
                "signature_image_sha256": crypto.sha256_hex(png),
                "ip": client.ip,
            },
        )
    return e


def require_signed(e: Endorsement) -> None:
    require_open_today(e)
    if e.status != Endorsement.Status.SIGNED:
        raise ApplicationError("not_signed", "请先在批改申请书上签名。")


# --- SMS code, real-name check, the new owner's consent ----------------------------------------------------
def _signed(number: str, *, related: str | None = None) -> Endorsement:
    rows = Endorsement.objects.select_related(related) if related else Endorsement.objects.all()
    e = rows.filter(number=number).first()
    if e is None:
        raise ApplicationError("not_found", "没有这个批改申请。")
    require_signed(e)
    return e


def _send(e: Endorsement, *, purpose: str, phone: str, tag: str, purpose_zh: str, client: ClientInfo) -> str:
    challenge, code = otp.otp_issue(purpose=purpose, subject=e.number, phone=phone, ip=client.ip)
    send_code(phone, code, e.policy.number, f"{e.number}{tag}.{challenge.pk}", purpose_zh)
    return mask_phone(phone)


def _verify(number: str, *, purpose: str, code: str, field: str, who: str, client: ClientInfo) -> Endorsement:
    """Check a code (outside any transaction: a wrong one uses up an attempt), then record it."""
    _signed(number)
    challenge = otp.otp_check(purpose=purpose, subject=number, code=code)
    with transaction.atomic():
        e = locked_endorsement(number)
        require_signed(e)
        setattr(e, field, challenge.verified_at)
        e.save(update_fields=[field])
        audit_record(
            action=f"endorsement.{field.removesuffix('_at')}",
            actor=f"{who}:{e.policy.number}",
            subject_type="policy",
            subject_id=e.policy.number,
            data={"endorsement": e.number, "ip": client.ip},
        )
    return e


def endorsement_otp_send(*, number: str, client: ClientInfo) -> str:
    e = _signed(number, related="policy__applicant")
    phone = e.policy.applicant.phone
    return _send(e, purpose=OTP_PURPOSE, phone=phone, tag="", purpose_zh="确认保单批改", client=client)


def endorsement_otp_verify(*, number: str, code: str, client: ClientInfo) -> Endorsement:
    return _verify(
        number, purpose=OTP_PURPOSE, code=code, field="otp_verified_at", who="customer", client=client
    )


def endorsement_realname(*, number: str, bank_card: str, bank_phone: str, client: ClientInfo) -> Endorsement:
    """Four-element real-name check of the applicant (name and ID number on file, the bank card and the
    phone the bank holds); after the SMS code. The provider is called outside any transaction."""
    from epolicy.identity.providers.base import ProviderUnavailable

    e = _signed(number, related="policy__applicant")
    if e.otp_verified_at is None:
        raise ApplicationError("otp_required", "请先完成短信验证。")
    rate_limit_hit(bucket="motor_endorsement_realname", client=client.client_key, limit=10)
    card = validate_bank_card(bank_card, field="bank_card")
    phone = validate_phone(bank_phone, field="bank_phone")
    applicant = e.policy.applicant
    inputs = hashlib.sha256(f"{card}|{phone}".encode()).hexdigest()[:12]
    try:
        result = get_provider("realname").verify(
            name=applicant.name,
            id_number=applicant.id_number,
            bank_card=card,
            phone=phone,
            request_id=f"{e.number}-realname-{inputs}",
        )
    except ProviderUnavailable as exc:
        raise exc.as_application_error() from None
    with transaction.atomic():
        e = locked_endorsement(number)
        require_signed(e)
        audit_record(
            action="endorsement.realname_" + result.status,
            actor=f"customer:{e.policy.number}",
            subject_type="policy",
            subject_id=e.policy.number,
            data={
                "endorsement": e.number,
                "reference": result.reference,
                "bank_card": mask_bank_card(card),
                "bank_phone": mask_phone(phone),
                "ip": client.ip,
            },
        )
        if result.status == "passed":
            e.realname_verified_at = result.checked_at
            e.realname_reference = result.reference[:64]
            e.save(update_fields=["realname_verified_at", "realname_reference"])
    if result.status != "passed":
        raise ApplicationError("realname_failed", f"实名认证未通过：{result.reason_zh}", {"retryable": True})
    return e


def endorsement_consent_send(*, number: str, client: ClientInfo) -> str:
    """过户: a code to the new owner's phone; entering it is the new owner's consent."""
    e = _signed(number, related="policy")
    if e.kind != "transfer":
        raise ApplicationError("endorsement_state", "该批改无需他人同意。")
    phone = e.changes["new_owner"]["phone"]
    return _send(
        e, purpose=CONSENT_PURPOSE, phone=phone, tag=".consent", purpose_zh="同意车辆过户批改", client=client
    )


def endorsement_consent_verify(*, number: str, code: str, client: ClientInfo) -> Endorsement:
    return _verify(
        number,
        purpose=CONSENT_PURPOSE,
        code=code,
        field="consent_verified_at",
        who="new_owner",
        client=client,
    )


def missing_steps(e: Endorsement, *, fresh: bool = True) -> list[str]:
    """What the endorsement still needs before it can be applied, in order. The SMS and real-name checks
    count for 30 minutes; with `fresh=False` only whether they were passed (a payment arriving from the
    gateway after a payment that started in time)."""
    now = clock.now()
    spec = endorsement_catalogue().kind(e.kind)

    def passed(at: dt.datetime | None) -> bool:
        return at is not None and (not fresh or now - at <= CHECK_VALID_FOR)

    missing: list[str] = []
    if e.status == Endorsement.Status.REQUESTED:
        missing.append("sign")
    if not passed(e.otp_verified_at):
        missing.append("sms")
    if spec.needs_realname and not passed(e.realname_verified_at):
        missing.append("realname")
    if spec.consent == "new_owner" and e.consent_verified_at is None:
        missing.append("consent")
    if e.premium_due > 0 and e.paid_at is None:
        missing.append("pay")
    return missing


STEP_ERRORS = {
    "sign": ("not_signed", "请先在批改申请书上签名。"),
    "sms": ("otp_required", "请先完成短信验证（验证后 30 分钟内确认）。"),
    "realname": ("realname_required", "该批改须先通过实名认证（验证后 30 分钟内确认）。"),
    "consent": ("consent_required", "过户须新车主输入其手机收到的验证码表示同意。"),
    "pay": ("payment_required", "请先缴纳增加的保险费。"),
}
