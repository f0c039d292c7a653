"""Each kind of endorsement end to end: asked for through the insurer systems' API, taken through its
steps by the applicant on the pages, applied; the sealed e-endorsement accepted by pdfsig, qpdf --check
and the platform's own verification, and the policy's state, money and mark as the kind says."""

from __future__ import annotations

import dataclasses
import datetime as dt
import subprocess

import pytest

from epolicy.archive.services import archive_read
from epolicy.common import clock
from epolicy.common.masking import mask_phone
from epolicy.motor.demo import demo_application_input, demo_commercial_input
from epolicy.motor.endorsements.state import current_view
from epolicy.motor.journey import drawn_signature_png, latest_sms_code, run_journey
from epolicy.motor.models import Endorsement
from epolicy.ops.outbox import outbox_sweep
from epolicy.payments.models import PaymentRefund, SandboxTransaction
from epolicy.policies.models import Policy
from epolicy.verification.services import verify_document

pytestmark = pytest.mark.django_db
CARD = "6222020200112233446"
NEW_OWNER = {"name": "钱新主", "id_number": "110105198503070019", "phone": "13911112222"}


def _policy(kind: str, settings) -> Policy:
    if kind == "coverage":
        settings.MOTOR_ALLOW_UNCONFIRMED_RATES = True
        first = run_journey(demo_commercial_input("family", seed=91))
        return Policy.objects.get(application=first.application, product="commercial")
    data = demo_application_input(92)
    if kind == "plate":
        vehicle = dataclasses.replace(
            data.vehicle, plate="", unregistered=True, registered_on=clock.today() - dt.timedelta(days=1)
        )
        data = dataclasses.replace(data, vehicle=vehicle)
    return run_journey(data)


CHANGES = {
    "contact": {"phone": "13700001111", "address": "上海市浦东新区示例路 1 号"},
    "plate": {"plate": "京AF5678"},
    "vehicle": {
        "engine_number": "E7654321",
        "brand_model": "示例牌 SL7152 轿车（更正）",
        "vin": "LSVAB2BRXKN000001",
    },
    "transfer": {"new_owner": NEW_OWNER},
    "coverage": {
        "remove": ["scratch"],
        "add": [{"code": "repair_compensation", "parent": "damage", "days": 10, "daily_amount": "100"}],
    },
    "cancel": {"ground": "suspended"},
}


@pytest.mark.parametrize("kind", list(CHANGES))
def test_each_kind_from_the_api_to_a_sealed_endorsement(
    kind, client, system, pki, committed, settings, tmp_path
):
    with committed(execute=True):
        policy = _policy(kind, settings)
    applicant = policy.applicant
    phone = applicant.phone
    asked = system.post(
        f"/api/v1/motor/policies/{policy.number}/endorsements", {"kind": kind, "changes": CHANGES[kind]}
    )
    assert asked.status_code == 201, asked.json()
    body = asked.json()
    number = body["number"]
    # The applicant signs in and takes it from there.
    client.post("/m/p/", {"action": "send", "policy_number": policy.number, "id_number": applicant.id_number})
    client.post(
        "/m/p/",
        {"action": "verify", "policy_number": policy.number, "code": latest_sms_code(mask_phone(phone))},
    )
    url = f"/m/p/{policy.number}/e/{number}/"
    page = client.get(url).content.decode()
    assert number in page and 'id="pad"' in page
    assert client.post(url, {"action": "sign", "signature": drawn_signature_png()}).status_code == 302
    client.post(url, {"action": "otp_send"})
    client.post(url, {"action": "otp_verify", "code": latest_sms_code(mask_phone(phone))})
    if "realname" in body["auth"]:
        assert (
            client.post(
                url, {"action": "realname", "bank_card": CARD, "bank_phone": "13800138000"}
            ).status_code
            == 302
        )
    if kind == "transfer":
        client.post(url, {"action": "consent_send"})
        client.post(
            url, {"action": "consent_verify", "code": latest_sms_code(mask_phone(NEW_OWNER["phone"]))}
        )
    e = Endorsement.objects.get(number=number)
    with committed(execute=True):
        if e.premium_due > 0:
            paying = client.post(url, {"action": "pay"})
            assert paying.status_code == 302 and "/sandbox/pay/" in paying["Location"]
            from epolicy.common.providers import get_provider
            from epolicy.payments.services import payment_sync

            txn = SandboxTransaction.objects.order_by("-id").first()
            get_provider("payment").payer_submits(
                txn, payer_name=applicant.name, payer_id_number=applicant.id_number, succeed=True
            )
            payment_sync(order_no=txn.merchant_order_no, actor="test")
        else:
            assert client.post(url, {"action": "apply"}).status_code == 302
    outbox_sweep()
    e.refresh_from_db()
    policy.refresh_from_db()
    assert e.status == Endorsement.Status.APPLIED, (kind, e.status)
    listed = system.get(f"/api/v1/motor/policies/{policy.number}/endorsements/{number}").json()
    assert listed["status"] == "applied" and listed["document_sha256"] == e.document.sha256

    pdf = archive_read(e.document)
    path = tmp_path / f"{number}.pdf"
    path.write_bytes(pdf)
    assert subprocess.run(["qpdf", "--check", str(path)], capture_output=True).returncode == 0
    assert (
        "Signature is Valid" in subprocess.run(["pdfsig", str(path)], capture_output=True, text=True).stdout
    )
    result = verify_document(pdf, bounded=False)
    assert result.genuine and result.endorsement == e and result.byte_identical
    # Rendered as a page someone reads: one A4 page with ink on it.
    png = subprocess.run(
        ["pdftoppm", "-r", "40", "-png", "-f", "1", "-l", "1", str(path)], capture_output=True
    )
    assert png.returncode == 0 and png.stdout.startswith(b"\x89PNG") and len(png.stdout) > 10_000

    view = current_view(policy)
    if kind == "contact":
        applicant.refresh_from_db()
        assert applicant.phone == "13700001111"
    elif kind == "plate":
        assert policy.plate == "京AF5678" and view.plate == "京AF5678"
        assert (
            "京AF5678"
            in subprocess.run(
                ["pdftotext", "-", "-"], input=archive_read(policy.mark_document), capture_output=True
            ).stdout.decode()
        )
    elif kind == "vehicle":
        assert view.engine_number == "E7654321" and view.vin == "LSVAB2BRXKN000001"
        assert policy.vin_index  # the corrected VIN is the one a new car's policy is queried by
    elif kind == "transfer":
        assert view.owner.name == NEW_OWNER["name"] and view.insured.name == NEW_OWNER["name"]
        # The new insured can query the policy with their own ID number (the applicant still can).
        from epolicy.policies.selectors import policy_find

        for id_number in (NEW_OWNER["id_number"], applicant.id_number):
            assert policy_find(policy_number=policy.number, id_number=id_number, plate=policy.plate) == policy
    elif kind == "coverage":
        names = " ".join(line["name"] for line in view.quote["commercial"]["lines"])
        assert "修理期间" in names and "划痕" not in names
        owed = e.premium_due - e.refund
        assert owed != 0
        if e.refund:
            assert PaymentRefund.objects.filter(reference=number).exists()
    elif kind == "cancel":
        assert policy.status == Policy.Status.CANCELLED
        assert PaymentRefund.objects.get(reference=number).refunded_at is not None
