"""Staff console: customers' self-service requests with their identity evidence, and the "不是本人操作"
disputes (life guide §6.8) with their resolution."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from epolicy.common.errors import ApplicationError
from epolicy.common.masking import mask_phone
from epolicy.portal.views import page
from epolicy.selfservice.disputes import RESOLUTIONS, dispute_resolve, open_disputes
from epolicy.selfservice.models import ChangeRequest
from epolicy.selfservice.risk import METHODS

from .views import staff_member_required


@staff_member_required
def disputes(request: HttpRequest) -> HttpResponse:
    cases = list(open_disputes()[:200])
    return page(
        request,
        "backoffice/selfservice_disputes.html",
        {
            "cases": cases,
            "resolutions": list(RESOLUTIONS.items()),
            "open_count": sum(c.status == "open" for c in cases),
        },
    )


@require_POST
@staff_member_required
def dispute_close(request: HttpRequest, dispute_id: str) -> HttpResponse:
    try:
        dispute_resolve(
            dispute_id=dispute_id,
            outcome=request.POST.get("outcome", ""),
            note=request.POST.get("note", ""),
            actor=f"staff:{request.user.get_username()}",
        )
        messages.success(request, "申诉已处理，该保单涉及资金的自助项目已恢复办理。")
    except ApplicationError as exc:
        messages.error(request, exc.message_zh)
    return HttpResponseRedirect(reverse("backoffice:selfservice_disputes"))


@staff_member_required
def change_requests(request: HttpRequest) -> HttpResponse:
    rows = []
    for req in ChangeRequest.objects.select_related("policy", "customer", "change").prefetch_related(
        "checks"
    )[:200]:
        rows.append(
            {
                "req": req,
                "phone": mask_phone(req.customer.phone),
                "item": req.quote.get("item_name_zh", req.item),
                "checks": [
                    {
                        "method": METHODS.get(c.method, c.method),
                        "status": c.get_status_display(),
                        "provider": c.provider,
                        "reference": c.reference,
                        "score": c.score,
                        "at": c.completed_at or c.created_at,
                        "used": c.used_at is not None,
                    }
                    for c in req.checks.all()
                ],
            }
        )
    return page(request, "backoffice/selfservice_requests.html", {"rows": rows})
