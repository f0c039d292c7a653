"""The sandbox gateway's cashier page (stands where a real gateway's hosted page would be)."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.views.decorators.http import require_http_methods

from epolicy.common.money import fmt_cny, from_fen
from epolicy.common.providers import get_provider
from epolicy.payments.models import SandboxTransaction

from .views import page


@require_http_methods(["GET", "POST"])
def cashier(request: HttpRequest, txn_id: str) -> HttpResponse:
    gateway = get_provider("payment")
    txn = SandboxTransaction.objects.filter(txn_id=txn_id).first()
    if txn is None or gateway.name != "sandbox":
        raise Http404
    if request.method == "POST" and txn.status not in ("success", "refunded"):
        name = request.POST.get("payer_name", "").strip()
        id_number = request.POST.get("payer_id_number", "").strip()
        if not name or not id_number:
            return page(
                request,
                "portal/sandbox_pay.html",
                {
                    "txn": txn,
                    "amount": fmt_cny(from_fen(txn.amount_fen)),
                    "notice": "请填写付款人姓名和身份证号码。",
                },
                status=422,
            )
        gateway.payer_submits(
            txn, payer_name=name, payer_id_number=id_number, succeed=request.POST.get("outcome") == "success"
        )
        if not gateway.deliver(txn):
            from epolicy.payments.tasks import schedule_redelivery

            schedule_redelivery(txn)  # like a real gateway: retried later; the return page also asks
        return HttpResponseRedirect(txn.return_url)
    return page(request, "portal/sandbox_pay.html", {"txn": txn, "amount": fmt_cny(from_fen(txn.amount_fen))})
