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
from epolicy.rules.life import ITEMS, ChangeRefused, Refusal, values_on
from epolicy.rules.life.vocab import MOVEMENT_KINDS
from epolicy.servicing import selectors, services
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


def _param_templates() -> dict[str, dict[str, Any]]:
    """A JSON skeleton per item that the quote form pre-fills when the item is picked."""
    return {
        info.code: {p.name: ({} if p.kind == "answers" else "") for p in info.params if p.required}
        for info in ITEMS
    }


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


def _parse_params(raw: str) -> dict[str, Any]:
    text = raw.strip() or "{}"
    try:
        params = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ApplicationError(
            "validation_error",
            f"参数不是有效的 JSON（第 {exc.lineno} 行第 {exc.colno} 列）："
            '请填写如 {"amount": "1000.00"} 的对象。',
            {"fields": [{"field": "params", "problem": "不是有效的 JSON"}]},
        ) from None
    if not isinstance(params, dict):
        raise ApplicationError(
            "validation_error",
            "参数须为 JSON 对象（用花括号 {} 括起的“名称: 值”）。",
            {"fields": [{"field": "params", "problem": "应为 JSON 对象"}]},
        )
    return params


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
    form: dict[str, str] | None = None,
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
            "items": services.change_items_available(policy_number=number, actor=_actor(request)),
            "item_specs": ITEMS,
            "param_templates": _param_templates(),
            "form": form or {},
            "quote": quote,
            "refusals": refusals,
            "error": error,
        },
        status=error.status if error else 200,
    )


@staff_member_required
def policy(request: HttpRequest, number: str) -> HttpResponse:
    return _policy_page(request, number)


@staff_member_required
@require_POST
def quote(request: HttpRequest, number: str) -> HttpResponse:
    """Try a change without applying it: the before/after lines, or every reason it is refused."""
    form = {"item": request.POST.get("item", "").strip(), "params": request.POST.get("params", "")}
    try:
        params = _parse_params(form["params"])
        change_quote, version = services.change_quote(
            policy_number=number, item=form["item"], params=params, actor=_actor(request)
        )
    except ChangeRefused as exc:
        return _policy_page(request, number, form=form, refusals=exc.refusals, error=exc)
    except ApplicationError as exc:
        return _policy_page(request, number, form=form, error=exc)
    return _policy_page(request, number, form=form, quote=quote_json(change_quote, version))


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
