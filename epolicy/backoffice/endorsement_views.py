"""Staff asking for a motor endorsement on the policyholder's behalf (a phone call, a branch visit): the
request is made and quoted here, and the applicant is sent an SMS to sign, pass the checks and confirm on
their own pages (/m/p/). Staff never sign or confirm for them."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from epolicy.common.errors import ApplicationError
from epolicy.common.masking import mask_phone
from epolicy.motor.endorsements import selectors as es_sel
from epolicy.motor.endorsements import services as es
from epolicy.motor.endorsements.coverage import coverage_options
from epolicy.motor.endorsements.forms import changes_from_form
from epolicy.motor.endorsements.state import current_view
from epolicy.notifications.services import Recipient, notify
from epolicy.policies.models import Policy
from epolicy.portal.views import page
from epolicy.products.motor_endorsements import endorsement_catalogue
from epolicy.products.motor_products import motor_catalogue

from .auth_views import staff_required


@staff_required
@require_http_methods(["GET", "POST"])
def endorse(request: HttpRequest, number: str) -> HttpResponse:
    policy = Policy.objects.select_related("applicant", "application").filter(number=number).first()
    if policy is None:
        raise Http404
    catalogue = endorsement_catalogue()
    kinds = es_sel.kinds_for(policy)
    kind = request.POST.get("kind") or request.GET.get("kind") or ""
    error = None
    if request.method == "POST":
        try:
            with transaction.atomic():
                e = es.endorsement_request(
                    policy_number=policy.number,
                    kind=kind,
                    changes=changes_from_form(kind, request.POST),
                    actor=f"staff:{request.user.get_username()}",
                )
                notify(
                    event="motor.endorsement_requested",
                    recipient=Recipient(phone=policy.applicant.phone),
                    context={
                        "policy_number": policy.number,
                        "change_name": catalogue.kind(kind).label_zh,
                        "url": f"{settings.SITE_URL}/m/p/",
                    },
                    dedupe_key=e.number,
                    actor=f"staff:{request.user.get_username()}",
                )
            messages.success(
                request,
                f"已为投保人申请“{catalogue.kind(kind).label_zh}”（{e.number}），已短信通知投保人"
                f"（{mask_phone(policy.applicant.phone)}）登录“我的保单”核对、签名并确认；报价当日有效。",
            )
            return HttpResponseRedirect(reverse("backoffice:application", args=[policy.application.number]))
        except ApplicationError as exc:
            error = exc
    product_kind = motor_catalogue().product(policy.product).kind
    view = current_view(policy)
    with_coverage = kind == "coverage" and product_kind == "commercial"
    return page(
        request,
        "backoffice/endorse.html",
        {
            "policy": policy,
            "kinds": kinds,
            "kind": kind if kind in catalogue.kinds else "",
            "label": catalogue.kind(kind).label_zh if kind in catalogue.kinds else "",
            "grounds": catalogue.cancellation[product_kind].grounds.items(),
            "view": view,
            "coverage": coverage_options(view) if with_coverage else None,
            "phone_masked": mask_phone(policy.applicant.phone),
            "post": request.POST,
            "error": error,
        },
        status=error.status if error else 200,
    )
