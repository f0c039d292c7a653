"""A customer's change, step by step, each step enforced by the server (life guide §6.3–§6.7).

    start (form → quote) → acknowledge the impact prompt → identity checks of the item's level
    → confirm (SMS code for low risk; an e-signature on the change request for medium and high)
    → apply through the servicing services (→ applied, or pending manual review) → notify.

Every step names the request by its random public id and checks that it is this customer's, in the
right state, not expired. Changes are refused during a maintenance window and, for money-out items,
while a "不是本人操作" dispute of the policy is open.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.db import transaction

from epolicy.audit.services import audit_record
from epolicy.common import clock
from epolicy.common.errors import ApplicationError
from epolicy.common.request_meta import ClientInfo
from epolicy.products.life_tables import load_life_catalogue
from epolicy.rules.life import values_on
from epolicy.servicing import services as servicing
from epolicy.servicing.models import PolicyChange
from epolicy.servicing.params import quote_digest

from . import identity
from .accounts import bound_policy, require_agreement
from .forms import ACCOUNT_TOKEN_PENDING, parse_or_refuse
from .impact import impact_prompt
from .models import ChangeRequest, Dispute, IdentityCheck, LifeCustomer
from .risk import risk_matrix

MAINTENANCE_SCOPE = "life_self_service"


def _maintenance_guard() -> None:
    try:
        from epolicy.ops.maintenance import maintenance_guard
    except ImportError:  # pragma: no cover - the ops app always has it
        return
    maintenance_guard(MAINTENANCE_SCOPE)


def dispute_frozen(policy_id: int) -> bool:
    return Dispute.objects.filter(
        policy_id=policy_id, status=Dispute.Status.OPEN, opened_at__isnull=False
    ).exists()


def _refuse_if_frozen(policy_id: int, item: str) -> None:
    if item in risk_matrix().money_out and dispute_frozen(policy_id):
        raise ApplicationError("life_dispute_frozen")


def customer_request(*, customer: LifeCustomer, public_id: str, lock: bool = False) -> ChangeRequest:
    """This customer's request; anyone else's (or an unknown id) is the same not_found."""
    qs = ChangeRequest.objects.select_related("policy")
    if lock:
        qs = qs.select_for_update(of=("self",))
    req = qs.filter(public_id=public_id or "", customer=customer).first()
    if req is None:
        raise ApplicationError("not_found", "没有这笔保全申请。")
    return req


def _require_open(req: ChangeRequest) -> None:
    if req.status == ChangeRequest.Status.RECONFIRM:
        if clock.now() >= req.expires_at:
            reconfirm_lapse(req.pk)
            raise ApplicationError(
                "life_request_expired", "确认新金额的期限已过，该变更未生效；如仍需办理，请重新申请。"
            )
        return
    if req.status in (
        ChangeRequest.Status.QUOTED,
        ChangeRequest.Status.ACKNOWLEDGED,
        ChangeRequest.Status.IDENTIFIED,
    ):
        if clock.now() >= req.expires_at:
            ChangeRequest.objects.filter(pk=req.pk).update(status=ChangeRequest.Status.EXPIRED)
            raise ApplicationError("life_request_expired")
        return
    raise ApplicationError(
        "life_request_state", f"该申请当前状态为“{req.get_status_display()}”，不能进行此操作。"
    )


# --- start ------------------------------------------------------------------------------------------------
def request_start(
    *, customer: LifeCustomer, policy_number: str, item: str, data: dict[str, Any], client: ClientInfo
) -> ChangeRequest:
    """Check the form, work out the quote and its impact prompt, and open the request (§6.3, §6.4)."""
    _maintenance_guard()
    require_agreement(customer)
    policy = bound_policy(customer=customer, policy_number=policy_number)
    matrix = risk_matrix()
    if item not in matrix.items:
        raise ApplicationError("not_found", "没有这个保全项目。", {"item": item})
    _refuse_if_frozen(policy.pk, item)
    catalogue = load_life_catalogue()
    _life, state = servicing.life_policy_state(policy_number=policy.number)
    form = parse_or_refuse(item, data, state=state, catalogue=catalogue)
    actor = f"life_customer:{customer.pk}"
    quote, version = servicing.change_quote(
        policy_number=policy.number, item=item, params=form.params, actor=actor
    )
    values = values_on(state, clock.today(), catalogue)
    prompt = impact_prompt(quote=quote, state=state, values=values)
    quote_json = quote.to_json()
    now = clock.now()
    with transaction.atomic():
        req = ChangeRequest.objects.create(
            customer=customer,
            policy=policy,
            item=item,
            level=matrix.items[item],
            params=form.params,
            quote=quote_json,
            quote_sha256=quote_digest(quote_json),
            based_on_version=version,
            impact=prompt.as_json(),
            created_at=now,
            expires_at=now + _lifetime(),
            ip=client.ip,
            user_agent=client.user_agent,
        )
        identity.record_binding(req)
        audit_record(
            action="selfservice.request_started",
            actor=actor,
            subject_type="life_change_request",
            subject_id=req.public_id,
            data={
                "policy": policy.number,
                "item": item,
                "level": req.level,
                "quote_sha256": req.quote_sha256,
            },
        )
    return req


def _lifetime() -> Any:
    import datetime as dt

    return dt.timedelta(minutes=settings.SELFSERVICE["request_minutes"])


def request_acknowledge(
    *, customer: LifeCustomer, public_id: str, impact_sha256: str, client: ClientInfo
) -> ChangeRequest:
    """The customer read and acknowledged the impact prompt of exactly this quote (§6.3)."""
    with transaction.atomic():
        req = customer_request(customer=customer, public_id=public_id, lock=True)
        _require_open(req)
        if req.status != ChangeRequest.Status.QUOTED:
            raise ApplicationError("life_request_state", "影响提示已确认，请继续下一步。")
        if impact_sha256 != req.impact.get("sha256"):
            raise ApplicationError("life_quote_changed", "提示内容已更新，请重新阅读后确认。")
        req.acknowledged_at = clock.now()
        req.status = ChangeRequest.Status.ACKNOWLEDGED
        req.save(update_fields=["acknowledged_at", "status"])
        audit_record(
            action="selfservice.impact_acknowledged",
            actor=f"life_customer:{customer.pk}",
            subject_type="life_change_request",
            subject_id=req.public_id,
            data={"impact_sha256": impact_sha256, "ip": client.ip or ""},
        )
    return req


def request_cancel(*, customer: LifeCustomer, public_id: str) -> ChangeRequest:
    """The customer gives up a request not yet confirmed (after an approval: declines the new amounts)."""
    with transaction.atomic():
        req = customer_request(customer=customer, public_id=public_id, lock=True)
        _require_open(req)
        if req.status == ChangeRequest.Status.RECONFIRM:
            return request_decline(customer=customer, public_id=public_id)
        req.status = ChangeRequest.Status.CANCELLED
        req.save(update_fields=["status"])
    return req


# --- confirmation and apply --------------------------------------------------------------------------------
def request_confirm_sms(
    *, customer: LifeCustomer, public_id: str, code: str, client: ClientInfo
) -> ChangeRequest:
    """Low risk (§6.7): the SMS code to the policy's phone confirms the change and applies it."""
    req = customer_request(customer=customer, public_id=public_id)
    _require_open(req)
    if risk_matrix().levels[req.level].confirmation != "sms":
        raise ApplicationError("life_request_state", "该项目须以电子签名确认。")
    if req.status == ChangeRequest.Status.RECONFIRM:
        check = identity.sms_verify(req=req, code=code, client=client, for_confirmation=True)
        confirmation = {
            "method": "sms",
            "check": check.public_id,
            "at": clock.now().isoformat(),
            "ip": client.ip,
        }
        return _reconfirm(customer=customer, public_id=public_id, confirmation=confirmation, signed=None)
    if req.status != ChangeRequest.Status.ACKNOWLEDGED:
        raise ApplicationError("life_request_state", "请先阅读并确认变更影响提示。")
    check = identity.sms_verify(req=req, code=code, client=client, for_confirmation=True)
    identity.identification_complete(req)
    confirmation = {"method": "sms", "check": check.public_id, "at": clock.now().isoformat(), "ip": client.ip}
    return _apply(customer=customer, public_id=public_id, confirmation=confirmation, signed=None)


def request_confirm_signature(
    *, customer: LifeCustomer, public_id: str, signature: str, client: ClientInfo
) -> ChangeRequest:
    """Medium and high risk (§6.7): the customer signs the change request (an event certificate, PAdES)
    showing the quote, the impact prompt and the identity checks; then the change is applied."""
    from epolicy.documents.signature_image import check_signature_png
    from epolicy.identity.ratelimit import rate_limit_hit

    from .documents import sign_change_request

    rate_limit_hit(
        bucket="signature", client=client.client_key, limit=settings.SIGNATURE_MAX_PER_CLIENT_PER_HOUR
    )
    png = check_signature_png(signature)
    req = customer_request(customer=customer, public_id=public_id)
    _require_open(req)
    if risk_matrix().levels[req.level].confirmation != "signature":
        raise ApplicationError("life_request_state", "该项目以短信验证码确认。")
    if req.status == ChangeRequest.Status.RECONFIRM:
        # The new amounts are confirmed as the first ones were: a signed change request showing them.
        signed = sign_change_request(req=req, signature_png=png, client=client)
        confirmation = {
            "method": "signature",
            "signed_sha256": signed.sha256,
            "at": clock.now().isoformat(),
            "ip": client.ip,
        }
        return _reconfirm(customer=customer, public_id=public_id, confirmation=confirmation, signed=signed)
    identity.identification_complete(req)
    if req.status != ChangeRequest.Status.IDENTIFIED:
        raise ApplicationError(
            "life_identity_required", details={"next_method": identity.next_method(req) or "confirm"}
        )
    signed = sign_change_request(req=req, signature_png=png, client=client)
    confirmation = {
        "method": "signature",
        "signed_sha256": signed.sha256,
        "at": clock.now().isoformat(),
        "ip": client.ip,
    }
    return _apply(customer=customer, public_id=public_id, confirmation=confirmation, signed=signed)


def _apply(*, customer: LifeCustomer, public_id: str, confirmation: dict, signed: Any) -> ChangeRequest:
    """Apply the confirmed change; every check is verified again and used up in the same transaction."""
    actor = f"life_customer:{customer.pk}"
    try:
        with transaction.atomic():
            req = customer_request(customer=customer, public_id=public_id, lock=True)
            _require_open(req)
            _maintenance_guard()
            _refuse_if_frozen(req.policy_id, req.item)
            now = clock.now()
            if identity.next_method(req) is not None:
                raise ApplicationError(
                    "life_identity_required", details={"next_method": identity.next_method(req)}
                )
            used = _use_checks(req, now)
            params = dict(req.params)
            if params.get("account_token") == ACCOUNT_TOKEN_PENDING:
                raise ApplicationError("life_identity_required", "请先完成银行卡实名认证。")
            # The quote may have moved since the customer saw it (a new day, a change by another
            # channel): the customer confirms exactly what is applied, or confirms again.
            fresh, version = servicing.change_quote(
                policy_number=req.policy.number, item=req.item, params=params, actor=actor
            )
            if quote_digest(fresh.to_json()) != req.quote_sha256 or version != req.based_on_version:
                raise ApplicationError("life_quote_changed")
            change = servicing.change_apply(
                policy_number=req.policy.number,
                item=req.item,
                params=params,
                idempotency_key=req.public_id,
                actor=actor,
                expected_version=req.based_on_version,
                channel="self_service",
                evidence={
                    **identity.evidence_summary(req),
                    "impact_sha256": req.impact.get("sha256"),
                    "acknowledged_at": clock.fmt_local(req.acknowledged_at) if req.acknowledged_at else None,
                    "confirmation": confirmation.get("method"),
                    "signed_request_sha256": signed.sha256 if signed is not None else None,
                    "checks_used": used,
                },
            )
            req.change = change
            req.confirmation = confirmation
            req.confirmed_at = now
            req.signed_request = signed
            req.status = (
                ChangeRequest.Status.APPLIED
                if change.status == change.Status.APPLIED
                else ChangeRequest.Status.PENDING_REVIEW
            )
            req.save(update_fields=["change", "confirmation", "confirmed_at", "signed_request", "status"])
            if req.status == ChangeRequest.Status.APPLIED:
                from .notify import notify_change_applied

                notify_change_applied(req)
            audit_record(
                action="selfservice.request_confirmed",
                actor=actor,
                subject_type="life_change_request",
                subject_id=req.public_id,
                data={
                    "change": change.change_number,
                    "status": req.status,
                    "confirmation": confirmation["method"],
                },
            )
    except ApplicationError as exc:
        if exc.code in ("life_change_refused", "application_state"):
            ChangeRequest.objects.filter(public_id=public_id, customer=customer).update(
                status=ChangeRequest.Status.REFUSED, failure=exc.message_zh[:300]
            )
        raise
    return req


def review_followed(change: PolicyChange) -> None:
    """A reviewer decided a change this journey submitted (or the new amounts were declined): the
    customer's request follows and the customer is told (registered with servicing.events; runs
    inside the decision's transaction)."""
    req = ChangeRequest.objects.select_for_update().filter(change=change).first()
    if req is None or req.status not in (ChangeRequest.Status.PENDING_REVIEW, ChangeRequest.Status.RECONFIRM):
        return  # not a self-service change, or already followed (a retried decision)
    from .notify import notify_change_applied, notify_not_approved, notify_reconfirm

    if change.status == PolicyChange.Status.APPLIED:
        req.status = ChangeRequest.Status.APPLIED
        req.save(update_fields=["status"])
        notify_change_applied(req)
    elif change.status == PolicyChange.Status.AWAITING_CONFIRMATION:
        req.first_quote = req.quote
        req.quote = change.reconfirm_quote
        req.quote_sha256 = quote_digest(change.reconfirm_quote)
        req.status = ChangeRequest.Status.RECONFIRM
        req.expires_at = clock.now() + dt.timedelta(days=settings.SELFSERVICE["reconfirm_days"])
        req.save(update_fields=["first_quote", "quote", "quote_sha256", "status", "expires_at"])
        notify_reconfirm(req)
    else:
        reason = change.review_reason or "未通过人工审核"
        req.status = ChangeRequest.Status.REFUSED
        req.failure = (reason if req.first_quote else f"人工审核未通过：{reason}")[:300]
        req.save(update_fields=["status", "failure"])
        notify_not_approved(req, reason)
    audit_record(
        action="selfservice.review_followed",
        actor=change.reviewed_by or "system",
        subject_type="life_change_request",
        subject_id=req.public_id,
        data={"change": change.change_number, "status": req.status},
    )


def _reconfirm(*, customer: LifeCustomer, public_id: str, confirmation: dict, signed: Any) -> ChangeRequest:
    """The customer confirms the amounts an approval changed; applied only if they still hold."""
    actor = f"life_customer:{customer.pk}"
    with transaction.atomic():
        req = customer_request(customer=customer, public_id=public_id, lock=True)
        _require_open(req)
        if req.status != ChangeRequest.Status.RECONFIRM or req.change is None:
            raise ApplicationError("life_request_state", "该申请无需确认新金额。")
        _maintenance_guard()
        _refuse_if_frozen(req.policy_id, req.item)
        change = servicing.change_confirm_amounts(
            change_id=req.change.pk,
            quote_sha256=req.quote_sha256,
            confirmation={**confirmation, "signed_request_sha256": signed.sha256 if signed else None},
            actor=actor,
        )
        if change.status == PolicyChange.Status.AWAITING_CONFIRMATION:
            # The amounts moved again since the page was shown (a new day): show them, confirm again.
            req.quote = change.reconfirm_quote
            req.quote_sha256 = quote_digest(change.reconfirm_quote)
            req.save(update_fields=["quote", "quote_sha256"])
            moved = True
        else:
            moved = False
            req.change = change  # as the servicing services left it (applied, or failed)
            req.confirmation = {**req.confirmation, "reconfirmation": confirmation}
            req.confirmed_at = clock.now()
            if signed is not None:
                req.signed_request = signed
            if change.status == PolicyChange.Status.APPLIED:
                from .notify import notify_change_applied

                req.status = ChangeRequest.Status.APPLIED
                req.save(update_fields=["confirmation", "confirmed_at", "signed_request", "status"])
                notify_change_applied(req)
            else:  # the rules refuse it today
                from .notify import notify_not_approved

                req.status = ChangeRequest.Status.REFUSED
                req.failure = change.review_reason[:300]
                req.save(
                    update_fields=["confirmation", "confirmed_at", "signed_request", "status", "failure"]
                )
                notify_not_approved(req, change.review_reason)
        audit_record(
            action="selfservice.amounts_confirmed",
            actor=actor,
            subject_type="life_change_request",
            subject_id=req.public_id,
            data={"change": change.change_number, "status": change.status, "method": confirmation["method"]},
        )
    if moved:
        raise ApplicationError("life_quote_changed", "金额已按今日重新计算，请查看新的金额后再次确认。")
    return req


def request_decline(*, customer: LifeCustomer, public_id: str) -> ChangeRequest:
    """The customer does not accept the amounts an approval changed: the change ends without effect."""
    with transaction.atomic():
        req = customer_request(customer=customer, public_id=public_id, lock=True)
        _require_open(req)
        if req.status != ChangeRequest.Status.RECONFIRM or req.change is None:
            raise ApplicationError("life_request_state", "该申请无需确认新金额。")
        servicing.change_confirm_decline(
            change_id=req.change.pk, actor=f"life_customer:{customer.pk}", reason="客户不接受审核后的新金额"
        )
        req.refresh_from_db()
    return req


def reconfirm_lapse(request_pk: int) -> None:
    """New amounts not confirmed in time: the change lapses (its own transaction, committed)."""
    with transaction.atomic():
        req = ChangeRequest.objects.select_for_update().filter(pk=request_pk).first()
        if req is None or req.status != ChangeRequest.Status.RECONFIRM or req.change_id is None:
            return
        servicing.change_confirm_decline(
            change_id=req.change_id, actor="system", reason="客户未在期限内确认审核后的新金额"
        )


def reconfirm_lapse_due() -> int:
    """Every request whose time to confirm new amounts has passed (a periodic job)."""
    due = list(
        ChangeRequest.objects.filter(
            status=ChangeRequest.Status.RECONFIRM, expires_at__lte=clock.now()
        ).values_list("pk", flat=True)
    )
    for pk in due:
        reconfirm_lapse(pk)
    return len(due)


def _use_checks(req: ChangeRequest, now: Any) -> list[str]:
    """Mark the request's passed, unexpired checks used (once: a check never serves twice)."""
    ids = []
    for check in IdentityCheck.objects.select_for_update().filter(
        request=req, status=IdentityCheck.Status.PASSED, used_at__isnull=True, expires_at__gt=now
    ):
        if check.customer_id != req.customer_id or check.policy_id != req.policy_id:  # pragma: no cover
            raise ApplicationError("life_identity_required")
        ids.append(check.public_id)
    IdentityCheck.objects.filter(public_id__in=ids).update(used_at=now)
    return ids


def request_view(req: ChangeRequest) -> dict[str, Any]:
    """What the pages and the API show of a request."""
    matrix = risk_matrix()
    level = matrix.levels[req.level]
    return {
        "id": req.public_id,
        "policy_number": req.policy.number,
        "item": req.item,
        "item_name": req.quote.get("item_name_zh", req.item),
        "level": req.level,
        "level_label": level.label,
        "status": req.status,
        "status_label": req.get_status_display(),
        "display": req.quote.get("display", []),
        "amount_to_pay": req.quote.get("amount_to_pay"),
        "amount_to_receive": req.quote.get("amount_to_receive"),
        "effective_date": req.quote.get("effective_date"),
        "manual_review": bool(req.quote.get("manual_review")),
        "impact": req.impact,
        "methods": [
            {"method": s.method, "label": s.label, "state": s.state, "failures": s.failures}
            for s in identity.method_states(req)
        ],
        "next_method": identity.next_method(req),
        "video_allowed": identity.video_allowed(req),
        "confirmation": level.confirmation,
        "expires_at": clock.fmt_local(req.expires_at),
        "change_number": req.change.change_number if req.change is not None else None,
        "failure": req.failure,
        # An approval changed the amounts: what was first confirmed (the new ones are above).
        "first_amounts": (
            {
                "amount_to_pay": req.first_quote.get("amount_to_pay"),
                "amount_to_receive": req.first_quote.get("amount_to_receive"),
                "effective_date": req.first_quote.get("effective_date"),
            }
            if req.first_quote
            else None
        ),
    }
