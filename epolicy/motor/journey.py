"""The whole e-application journey driven through the same services the pages call.

Used by `epolicy issue_demo_policy`, the demo seed and the tests: it reads every document, signs with a
drawn signature, reads the SMS code from the sandbox outbox, pays through the sandbox gateway as the
applicant, and lets the platform issue the policy by itself.
"""

from __future__ import annotations

import base64
import io
import math
import re

from PIL import Image, ImageDraw

from epolicy.common.errors import ApplicationError
from epolicy.common.providers import get_provider
from epolicy.common.request_meta import ClientInfo
from epolicy.motor.issuance import policy_issue
from epolicy.notifications.models import SmsMessage
from epolicy.payments.models import SandboxTransaction
from epolicy.payments.services import payment_start, payment_sync
from epolicy.policies.models import Policy

from . import services
from .inputs import ApplicationInput
from .models import Application

DEMO_CLIENT = ClientInfo(ip="127.0.0.1", user_agent="epolicy-demo-journey")


def drawn_signature_png(width: int = 600, height: int = 200) -> str:
    """A handwriting-like stroke on a transparent background, as a data URL (what the signature pad posts)."""
    img = Image.new("RGBA", (width, height), (255, 255, 255, 0))
    draw = ImageDraw.Draw(img)
    points = [(40 + x * 5, height / 2 + 40 * math.sin(x / 6) * math.cos(x / 17)) for x in range(100)]
    draw.line(points, fill=(20, 20, 20, 255), width=6, joint="curve")
    draw.line([(120, 40), (180, 160), (260, 50), (330, 150)], fill=(20, 20, 20, 255), width=5)
    out = io.BytesIO()
    img.save(out, format="PNG")
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode()


def read_all_documents(app: Application) -> None:
    for code, _title in services.required_documents(app):
        services.application_document_served(app=app, code=code, client=DEMO_CLIENT)


def latest_sms_code(phone_masked: str) -> str:
    msg = SmsMessage.objects.filter(phone_masked=phone_masked).order_by("-id").first()
    match = re.search(r"验证码 (\d{6})", msg.text if msg else "")
    if match is None:
        raise ApplicationError("otp_invalid", "沙箱短信发件箱中没有验证码。")
    return match.group(1)


def pay_as(app: Application, *, payer_name: str, payer_id_number: str) -> str:
    """Open the payment and pay on the sandbox cashier; return the order number."""
    order, _url = payment_start(application_id=app.pk, actor=f"customer:{app.number}")
    gateway = get_provider("payment")
    txn = SandboxTransaction.objects.filter(merchant_order_no=order.order_no).order_by("-id").first()
    assert txn is not None
    gateway.payer_submits(txn, payer_name=payer_name, payer_id_number=payer_id_number, succeed=True)
    payment_sync(order_no=order.order_no, actor=f"customer:{app.number}")
    return order.order_no


def journey_until_payment(data: ApplicationInput, *, actor: str = "system:demo") -> Application:
    """Create, approve, read, sign and pass the SMS check: the application is ready to pay."""
    app = services.application_create(data=data, actor=actor)
    app, _token = services.application_approve(application_id=app.pk, actor=actor)
    read_all_documents(app)
    services.application_sign(app_id=app.pk, signature=drawn_signature_png(), client=DEMO_CLIENT)
    app.refresh_from_db()
    masked = services.application_otp_send(app=app, client=DEMO_CLIENT)
    services.application_otp_verify(app_id=app.pk, code=latest_sms_code(masked), client=DEMO_CLIENT)
    app.refresh_from_db()
    return app


def run_journey(data: ApplicationInput, *, actor: str = "system:demo") -> Policy:
    app = journey_until_payment(data, actor=actor)
    pay_as(app, payer_name=app.applicant.name, payer_id_number=app.applicant.id_number)
    # Issuance runs as a task after the payment commits; with a queued backend, do it now (idempotent).
    return policy_issue(application_id=app.pk)
