"""The signed change request: a real PAdES signature (pdfsig, qpdf), genuine to our verifier, showing
what the customer confirmed."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from epolicy.archive.services import archive_read
from epolicy.selfservice.models import ChangeRequest
from epolicy.signing.verify import verify_pdf

from .conftest import ID_NUMBER, PHONE
from .test_pages_flow import luhn_card, pass_sms, sign, start

pytestmark = [pytest.mark.django_db, pytest.mark.crosscheck]


def test_the_signed_change_request_is_a_genuine_pades_document(customer, life_demo, client, tmp_path):
    number = life_demo["endowment_in_force"]
    customer.ready(number)
    card = luhn_card("622202020000123456")
    rid = start(client, number, "payment_account_change", {"bank_name": "中国建设银行", "card_number": card})
    pass_sms(client, rid)
    client.post(
        f"/s/r/{rid}/", {"action": "realname", "id_number": ID_NUMBER, "bank_card": card, "bank_phone": PHONE}
    )
    assert sign(client, rid).status_code == 302
    req = ChangeRequest.objects.get(public_id=rid)
    data = archive_read(req.signed_request)
    path = tmp_path / "request.pdf"
    path.write_bytes(data)
    report = verify_pdf(data)
    assert report.code == "genuine", report
    assert report.document_kind == "change_request"
    assert subprocess.run(["qpdf", "--check", str(path)], capture_output=True).returncode == 0
    sig = subprocess.run(["pdfsig", str(path)], capture_output=True, text=True)
    assert "Signature is Valid" in sig.stdout, sig.stdout
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True).stdout
    for expected in (
        "寿险保全变更申请书",
        number,
        "交费账号变更",
        "实名认证",
        "风险及影响提示",
        "投保人声明",
    ):
        assert expected in text, expected
    if shutil.which("pdftoppm"):
        subprocess.run(
            ["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", str(path), "/tmp/change-request"]
        )
