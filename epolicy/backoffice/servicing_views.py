"""Staff console for life-policy servicing (保全): policies, values, versions, changes, manual review.

Thin like the rest of the console: parse the form, call a service of epolicy.servicing, render. A
refused quote or review shows the coded Chinese message (`error`, data-code) and the page again.
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from epolicy.archive.services import archive_read
from epolicy.common import clock
from epolicy.common.errors import ApplicationError
from epolicy.common.masking import mask_name
from epolicy.portal.views import page
from epolicy.products.life_tables import load_life_catalogue
from epolicy.rules.life import ChangeRefused, Refusal, values_on
from epolicy.rules.life.vocab import MOVEMENT_KINDS
from epolicy.selfservice.forms import form_context, parse_or_refuse, posted_fields
from epolicy.servicing import selectors, services
from epolicy.servicing.evidence import CHANNEL_NAMES, evidence_summary
from epolicy.servicing.models import LifePolicy, PolicyChange
from epolicy.servicing.schemas import VALUE_LABELS, policy_json, quote_json, values_json

from .views import staff_member_required


def _actor(request: HttpRequest) -> str:
    return f"staff:{request.user.get_username()}"


def _change(change_number: str) -> PolicyChange:
    try:
        return selectors.change_by_number(change_number)
    except ApplicationError as exc:
        if exc.code == "not_found":
            raise Http404 from None
        raise


def _change_row(c: PolicyChange) -> dict[str, Any]:
    return {"c": c, "result_version": c.result_version.version if c.result_version else None}


def _declaration(c: PolicyChange) -> list[dict[str, Any]]:
    """A health declaration's questions in the product's words with the answers given (for review)."""
    answers = c.params.get("health_declaration") if isinstance(c.params, dict) else None
    if not isinstance(answers, dict):
        return []
    _policy, state = services.life_policy_state(policy_number=c.policy.number)
    terms = load_life_catalogue().product(state.product_code).terms_for(state.effective_date)
    return [
        {"number": n, "text": q.text_zh, "yes": answers.get(q.code) is True}
        for n, q in enumerate(terms.health_questions, start=1)
    ]


# Shown even when zero; the other values only when the policy has them (an endowment has no account).
_ALWAYS_SHOWN = frozenset({"policy_year", "debt", "loan_limit", "net_surrender_value"})


def _value_rows(shown: dict[str, Any]) -> list[tuple[str, Any]]:
    keep = set(_ALWAYS_SHOWN)
    keep.add("account_value" if shown["account_value"] != "0.00" else "cash_value")
    return [(label, shown[key]) for key, label in VALUE_LABELS if key in keep or shown[key] != "0.00"]


@staff_member_required
def policies(request: HttpRequest) -> HttpResponse:
    rows = [
        {
            "number": p.number,
            "product_code": p.product_code,
            "applicant": mask_name(p.applicant_name),
            "status": p.get_status_display(),
            "version": p.current_version,
        }
        for p in LifePolicy.objects.order_by("number")[:500]
    ]
    pending = selectors.review_queue().count()
    return page(request, "backoffice/servicing/policies.html", {"policies": rows, "pending": pending})


def _policy_page(
    request: HttpRequest,
    number: str,
    *,
    item: str = "",
    typed: dict[str, str] | None = None,
    quote: dict[str, Any] | None = None,
    refusals: tuple[Refusal, ...] = (),
    error: ApplicationError | None = None,
) -> HttpResponse:
    try:
        life_policy, state = services.life_policy_state(policy_number=number)
    except ApplicationError as exc:
        if exc.code == "not_found":
            raise Http404 from None
        raise
    catalogue = load_life_catalogue()
    values = values_on(state, clock.today(), catalogue)
    summary = policy_json(
        number=life_policy.number,
        version=life_policy.current_version,
        stored_status=life_policy.status,
        state=state,
        values=values,
        catalogue=catalogue,
    )
    value_rows = _value_rows(values_json(values))
    versions = list(reversed(selectors.policy_versions(life_policy)))
    items = services.change_items_available(policy_number=number, actor=_actor(request))
    codes = [it.code for it in items]
    if item not in codes:
        item = next((it.code for it in items if it.available), codes[0])
    return page(
        request,
        "backoffice/servicing/policy.html",
        {
            "policy": life_policy,
            "summary": summary,
            "value_rows": value_rows,
            "loans": summary["values"]["loans"],
            "versions": versions,
            "changes": [_change_row(c) for c in services.change_history(policy_number=number)],
            "items": items,
            "item": item,
            "values": typed or {},
            **form_context(item, state, catalogue),
            "quote": quote,
            "refusals": refusals,
            "error": error,
        },
        status=error.status if error else 200,
    )


@staff_member_required
def policy(request: HttpRequest, number: str) -> HttpResponse:
    return _policy_page(request, number, item=request.GET.get("item", ""))


@staff_member_required
@require_POST
def quote(request: HttpRequest, number: str) -> HttpResponse:
    """Try a change without applying it: the before/after lines, or every reason it is refused.

    The fields are the item's own form (the one the customer fills in self-service), so the console
    quotes exactly what a customer would be quoted.
    """
    item = request.POST.get("item", "").strip()
    values, data = posted_fields(request.POST)
    values.pop("item", None)
    try:
        _life, state = services.life_policy_state(policy_number=number)
        parsed = parse_or_refuse(item, data, state=state, catalogue=load_life_catalogue())
        change_quote, version = services.change_quote(
            policy_number=number, item=item, params=parsed.params, actor=_actor(request)
        )
    except ChangeRefused as exc:
        return _policy_page(request, number, item=item, typed=values, refusals=exc.refusals, error=exc)
    except ApplicationError as exc:
        if exc.code == "not_found" and exc.details.get("item"):
            return _policy_page(request, number, typed=values, error=exc)
        return _policy_page(request, number, item=item, typed=values, error=exc)
    return _policy_page(request, number, item=item, typed=values, quote=quote_json(change_quote, version))


@staff_member_required
def change(request: HttpRequest, change_number: str) -> HttpResponse:
    found = _change(change_number)
    stored = found.quote if isinstance(found.quote, dict) else {}
    return page(
        request,
        "backoffice/servicing/change.html",
        {
            "change": found,
            "result_version": found.result_version.version if found.result_version else None,
            "lines": stored.get("display") or [],
            "endorsement_lines": stored.get("endorsement_lines") or [],
            "params_json": json.dumps(found.params, ensure_ascii=False, indent=1),
            # How it was requested: the channel, and only the summary of the evidence (no personal data).
            "channel_text": CHANNEL_NAMES.get(found.channel, found.channel),
            "evidence": evidence_summary(found.evidence),
            "declaration": _declaration(found),
            "ledger": [
                {"e": e, "kind_text": MOVEMENT_KINDS.get(e.kind, e.kind)} for e in selectors.ledger_of(found)
            ],
        },
    )


@staff_member_required
def endorsement(request: HttpRequest, change_number: str) -> HttpResponse:
    found = _change(change_number)
    if found.endorsement is None:
        raise Http404
    try:
        data = archive_read(found.endorsement)
    except OSError:
        error = ApplicationError("archive_unavailable")
        return page(request, "backoffice/base.html", {"error": error}, status=error.status)
    response = HttpResponse(data, content_type="application/pdf")
    filename = found.endorsement_number or found.change_number
    response["Content-Disposition"] = f'inline; filename="{filename}.pdf"'
    return response


def _queue(request: HttpRequest, error: ApplicationError | None = None, rejecting: str = "") -> HttpResponse:
    rows = [
        {
            **_change_row(c),
            "applicant": mask_name(c.policy.applicant_name),
            "declaration": _declaration(c),
        }
        for c in selectors.review_queue()
    ]
    return page(
        request,
        "backoffice/servicing/reviews.html",
        {"rows": rows, "error": error, "rejecting": rejecting},
        status=error.status if error else 200,
    )


@staff_member_required
def reviews(request: HttpRequest) -> HttpResponse:
    return _queue(request)


@staff_member_required
@require_POST
def approve(request: HttpRequest, change_number: str) -> HttpResponse:
    found = _change(change_number)
    try:
        done = services.change_review_approve(change_id=found.pk, actor=_actor(request))
    except ApplicationError as exc:
        return _queue(request, error=exc)
    if done.result_version is not None:
        messages.success(
            request, f"已核准保全申请 {done.change_number}，已生成保单第 {done.result_version.version} 版。"
        )
    else:
        messages.success(request, f"已处理保全申请 {done.change_number}：{done.get_status_display()}。")
    return HttpResponseRedirect(reverse("backoffice:life_reviews"))


@staff_member_required
@require_POST
def reject(request: HttpRequest, change_number: str) -> HttpResponse:
    found = _change(change_number)
    try:
        done = services.change_review_reject(
            change_id=found.pk, actor=_actor(request), reason=request.POST.get("reason", "")
        )
    except ApplicationError as exc:
        return _queue(request, error=exc, rejecting=found.change_number)
    messages.success(request, f"已拒绝保全申请 {done.change_number}。")
    return HttpResponseRedirect(reverse("backoffice:life_reviews"))
