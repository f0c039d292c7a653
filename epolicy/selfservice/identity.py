"""Identity checks of one change request, matched to its risk level (life guide §6.2.2–6.2.3).

Each check is an `IdentityCheck` row of this request: method, provider and reference, result, times.
A check counts only for its own request (hence its own customer and policy), until it expires, and only
once (`used_at`, set when the change is applied). Methods are taken in the level's order; a method the
level lets stand in for another (video for a failed face check) counts in its place.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db import transaction

from epolicy.audit.services import audit_record
from epolicy.common import clock
from epolicy.common.errors import ApplicationError
from epolicy.common.identifiers import validate_bank_card, validate_id_number, validate_phone
from epolicy.common.masking import mask_bank_card, mask_id_number, mask_phone
from epolicy.common.providers import get_provider
from epolicy.common.request_meta import ClientInfo
from epolicy.identity import otp
from epolicy.parties.models import Customer

from .models import ChangeRequest, IdentityCheck
from .risk import METHODS, risk_matrix

SMS_PURPOSE = "life_change"


@dataclass(frozen=True)
class MethodState:
    method: str
    label: str
    state: str  # passed | failed | pending | todo | not_needed
    check: IdentityCheck | None
    failures: int


def _valid(check: IdentityCheck, now: dt.datetime) -> bool:
    return check.status == IdentityCheck.Status.PASSED and check.used_at is None and check.expires_at > now


def method_states(req: ChangeRequest, *, now: dt.datetime | None = None) -> list[MethodState]:
    """The state of each method the request's level needs, in order (with a fallback's standing-in)."""
    now = now or clock.now()
    matrix = risk_matrix()
    level = matrix.levels[req.level]
    checks = list(req.checks.all())
    states = []
    for method in level.methods:
        own = [c for c in checks if c.method == method]
        failures = sum(1 for c in own if c.status == IdentityCheck.Status.FAILED)
        passed = next((c for c in reversed(own) if _valid(c, now)), None)
        fallback = level.fallbacks.get(method)
        if passed is None and fallback:
            passed = next((c for c in reversed(checks) if c.method == fallback and _valid(c, now)), None)
        pending = next((c for c in reversed(own) if c.status == IdentityCheck.Status.PENDING), None)
        state = "passed" if passed else ("pending" if pending else ("failed" if failures else "todo"))
        states.append(MethodState(method, METHODS[method], state, passed or pending, failures))
    return states


def next_method(req: ChangeRequest) -> str | None:
    """The first method not yet passed (None: identified)."""
    for state in method_states(req):
        if state.state != "passed":
            return state.method
    return None


def video_allowed(req: ChangeRequest) -> bool:
    """Video stands in for face when the level allows it and face failed often enough."""
    matrix = risk_matrix()
    level = matrix.levels[req.level]
    if level.fallbacks.get("face") != "video":
        return False
    failures = req.checks.filter(method="face", status=IdentityCheck.Status.FAILED).count()
    return failures >= matrix.face_attempts_before_video


def _require_turn(req: ChangeRequest, method: str) -> None:
    """Checks are taken in the level's order, only after the impact prompt was acknowledged."""
    if req.status != ChangeRequest.Status.ACKNOWLEDGED:
        raise ApplicationError("life_request_state", "请先阅读并确认变更影响提示，再进行身份核验。")
    wanted = next_method(req)
    if method == "video" and wanted == "face" and video_allowed(req):
        return
    if wanted != method:
        label = METHODS.get(wanted or "", "确认")
        raise ApplicationError(
            "life_request_state", f"请先完成“{label}”。", {"next_method": wanted or "confirm"}
        )


def _record(
    req: ChangeRequest,
    *,
    method: str,
    status: str,
    provider: str = "",
    reference: str = "",
    score: Decimal | None = None,
    detail: dict | None = None,
    expires_at: dt.datetime | None = None,
) -> IdentityCheck:
    now = clock.now()
    done = status in (IdentityCheck.Status.PASSED, IdentityCheck.Status.FAILED)
    check = IdentityCheck.objects.create(
        request=req,
        customer_id=req.customer_id,
        policy_id=req.policy_id,
        method=method,
        provider=provider,
        reference=reference,
        status=status,
        score=score,
        detail=detail or {},
        created_at=now,
        completed_at=now if done else None,
        expires_at=expires_at or now + risk_matrix().evidence_valid,
    )
    audit_record(
        action=f"selfservice.identity_{method}_{status}",
        actor=f"life_customer:{req.customer_id}",
        subject_type="life_change_request",
        subject_id=req.public_id,
        data={"check": check.public_id, "provider": provider, "reference": reference},
    )
    return check


def record_binding(req: ChangeRequest) -> IdentityCheck:
    """The binding of the policy to this customer, as the first check of the request."""
    return _record(req, method="binding", status=IdentityCheck.Status.PASSED, detail={"bound": True})


# --- SMS --------------------------------------------------------------------------------------------------
def sms_send(*, req: ChangeRequest, client: ClientInfo, for_confirmation: bool = False) -> str:
    """Send a code to the phone the policy holds (§6.2.2.3: the number left with the insurer)."""
    from .accounts import send_sms_code

    if for_confirmation:
        if req.status not in (
            ChangeRequest.Status.ACKNOWLEDGED,
            ChangeRequest.Status.IDENTIFIED,
            ChangeRequest.Status.RECONFIRM,
        ):
            raise ApplicationError("life_request_state", "请先确认变更影响提示。")
    else:
        _require_turn(req, "sms")
    phone = req.policy.applicant_phone
    if not phone:
        raise ApplicationError("life_contact_missing", "该保单没有预留手机号码，请联系客服更新后再办理。")
    verb = "确认办理" if for_confirmation else "办理"
    return send_sms_code(
        phone=phone,
        purpose=SMS_PURPOSE,
        subject=req.public_id,
        what=f"{verb}保单{req.policy.number}的保全变更",
        client=client,
    )


def sms_verify(
    *, req: ChangeRequest, code: str, client: ClientInfo, for_confirmation: bool = False
) -> IdentityCheck:
    if not for_confirmation:
        _require_turn(req, "sms")
    challenge = otp.otp_check(purpose=SMS_PURPOSE, subject=req.public_id, code=code)
    return _record(
        req,
        method="sms",
        status=IdentityCheck.Status.PASSED,
        provider=settings.PROVIDERS["sms"].rsplit(".", 1)[-1],
        reference=f"otp:{challenge.pk}",
        detail={"phone": mask_phone(req.policy.applicant_phone), "ip": client.ip},
    )


# --- real name --------------------------------------------------------------------------------------------
def realname_verify(
    *, req: ChangeRequest, id_number: str, bank_card: str, bank_phone: str, client: ClientInfo
) -> IdentityCheck:
    """ID card + bank card + name + the phone the bank holds, through the real-name provider.

    The ID number must be the applicant's (checked here, before anyone is asked); for an item that sets
    a bank account, the card checked must be that account's card. A pass gives the account its token.
    """
    from epolicy.identity.providers.base import ProviderUnavailable

    _require_turn(req, "realname")
    id_number = validate_id_number(id_number, field="id_number", today=clock.today())
    bank_card = validate_bank_card(bank_card, field="bank_card")
    bank_phone = validate_phone(bank_phone, field="bank_phone")
    policy = req.policy
    if Customer.id_index(id_number) != policy.applicant_id_index:
        _record(
            req,
            method="realname",
            status=IdentityCheck.Status.FAILED,
            detail={"reason": "id_number_not_applicant", "id_number": mask_id_number(id_number)},
        )
        raise ApplicationError(
            "life_identity_failed", "身份证号码与投保人不一致：须由投保人本人办理。", {"field": "id_number"}
        )
    account_card = req.params.get("card_number", "")
    if account_card and account_card != bank_card:
        raise ApplicationError(
            "validation_error", "请使用本次变更填写的银行卡进行实名认证。", {"field": "bank_card"}
        )
    provider = get_provider("realname")
    # The same inputs retried (after a timeout) keep their request id; other inputs get their own.
    inputs = hashlib.sha256(f"{id_number}|{bank_card}|{bank_phone}".encode()).hexdigest()[:12]
    try:
        result = provider.verify(
            name=policy.applicant_name,
            id_number=id_number,
            bank_card=bank_card,
            phone=bank_phone,
            request_id=f"{req.public_id}-realname-{inputs}",
        )
    except ProviderUnavailable as exc:
        raise exc.as_application_error() from None
    detail = {
        # The clear ID number stays in this encrypted record: the face and video checks need it.
        "id_number": id_number,
        "bank_card": mask_bank_card(bank_card),
        "bank_phone": mask_phone(bank_phone),
        "reason": result.reason_zh,
        "ip": client.ip,
    }
    with transaction.atomic():
        check = _record(
            req,
            method="realname",
            status=result.status,
            provider=provider.name,
            reference=result.reference,
            detail=detail,
        )
        if result.status == "passed" and account_card:
            # The verified card's agreement with the bank is the account token the engine keeps.
            ChangeRequest.objects.filter(pk=req.pk).update(
                params={**req.params, "account_token": f"{provider.name}:{result.reference}"}
            )
            req.refresh_from_db()
    if result.status != "passed":
        _failed_attempt(req, "realname")
        raise ApplicationError("life_identity_failed", result.reason_zh or "实名认证未通过。")
    return check


def _id_number_of(req: ChangeRequest) -> str:
    realname = (
        req.checks.filter(method="realname", status=IdentityCheck.Status.PASSED).order_by("-id").first()
    )
    if realname is None:
        raise ApplicationError("life_request_state", "请先完成实名认证。")
    return str(realname.detail.get("id_number", ""))


# --- face and video ---------------------------------------------------------------------------------------
def face_start(*, req: ChangeRequest, return_url: str) -> IdentityCheck:
    return _session_start(req, "face", return_url)


def video_start(*, req: ChangeRequest, return_url: str) -> IdentityCheck:
    if not video_allowed(req):
        raise ApplicationError("life_request_state", "请先完成人脸识别；多次未通过时可改用视频认证。")
    return _session_start(req, "video", return_url)


def _session_start(req: ChangeRequest, method: str, return_url: str) -> IdentityCheck:
    from epolicy.identity.providers.base import ProviderUnavailable

    _require_turn(req, method)
    provider = get_provider(method)
    attempt = req.checks.filter(method=method).count() + 1
    try:
        session = provider.start(
            name=req.policy.applicant_name,
            id_number=_id_number_of(req),
            request_id=f"{req.public_id}-{method}-{attempt}",
            return_url=return_url,
        )
    except ProviderUnavailable as exc:
        raise exc.as_application_error() from None
    url = getattr(session, "capture_url", "") or getattr(session, "room_url", "")
    with transaction.atomic():
        return _record(
            req,
            method=method,
            status=IdentityCheck.Status.PENDING,
            provider=provider.name,
            reference=session.reference,
            detail={"url": url},
            expires_at=session.expires_at,
        )


def session_finish(*, req: ChangeRequest, check_id: str) -> IdentityCheck:
    """Ask the provider for a face or video check's result and record it (the customer came back)."""
    from epolicy.identity.providers.base import ProviderUnavailable

    found = IdentityCheck.objects.filter(
        request=req, public_id=check_id, method__in=("face", "video")
    ).first()
    if found is None:
        raise ApplicationError("not_found", "没有这次身份核验。")
    if found.status != IdentityCheck.Status.PENDING:
        return found
    # Asked before any row is locked: a slow provider must not hold the lock, and its own record of a
    # timeout must not be rolled back with ours.
    try:
        result = get_provider(found.method).result(reference=found.reference)
    except ProviderUnavailable as exc:
        raise exc.as_application_error() from None
    if result.status == "pending":
        return found
    with transaction.atomic():
        check = IdentityCheck.objects.select_for_update().get(pk=found.pk)
        if check.status != IdentityCheck.Status.PENDING:
            return check
        now = clock.now()
        check.completed_at = now
        check.detail = {**check.detail, "reason": result.reason_zh}
        if check.method == "face":
            score = Decimal(str(result.score)) if result.score is not None else None
            check.score = score
            ok = (
                result.status == "passed"
                and bool(result.liveness)
                and score is not None
                and score >= risk_matrix().face_min_score
            )
            check.detail["liveness"] = result.liveness
        else:
            ok = result.status == "passed"
            check.detail.update(
                recording=getattr(result, "recording_reference", ""), agent=getattr(result, "agent", "")
            )
        check.status = (
            IdentityCheck.Status.PASSED
            if ok
            else (IdentityCheck.Status.EXPIRED if result.status == "expired" else IdentityCheck.Status.FAILED)
        )
        check.expires_at = now + risk_matrix().evidence_valid if ok else check.expires_at
        check.save()
        audit_record(
            action=f"selfservice.identity_{check.method}_{check.status}",
            actor=f"life_customer:{req.customer_id}",
            subject_type="life_change_request",
            subject_id=req.public_id,
            data={"check": check.public_id, "reference": check.reference, "score": str(check.score or "")},
        )
    if check.status == IdentityCheck.Status.FAILED:
        _failed_attempt(req, check.method)
    return check


def _failed_attempt(req: ChangeRequest, method: str) -> None:
    """A failed check of a high-risk change is told to the customer at once (§6.8)."""
    if req.level == "high":
        from .notify import notify_failed_attempt

        notify_failed_attempt(req, method)


def identification_complete(req: ChangeRequest) -> None:
    """Every method passed: the request moves on to confirmation."""
    if next_method(req) is None and req.status == ChangeRequest.Status.ACKNOWLEDGED:
        ChangeRequest.objects.filter(pk=req.pk, status=ChangeRequest.Status.ACKNOWLEDGED).update(
            status=ChangeRequest.Status.IDENTIFIED
        )
        req.refresh_from_db()


def evidence_summary(req: ChangeRequest) -> dict:
    """What the change record keeps of the identification: methods, providers, references, results,
    times — no personal data."""
    return {
        "level": req.level,
        "checks": [
            {
                "method": c.method,
                "provider": c.provider,
                "reference": c.reference,
                "status": c.status,
                "score": str(c.score) if c.score is not None else None,
                "at": clock.fmt_local(c.completed_at or c.created_at),
            }
            for c in req.checks.all()
            if c.status in (IdentityCheck.Status.PASSED, IdentityCheck.Status.FAILED)
        ],
    }
