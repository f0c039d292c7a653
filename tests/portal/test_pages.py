"""The H5 pages refuse out-of-order steps on the server and show the Chinese message, never a 500."""

import pytest

from epolicy.motor import services
from epolicy.motor.demo import demo_application_input
from epolicy.motor.journey import drawn_signature_png, read_all_documents

pytestmark = pytest.mark.django_db


@pytest.fixture
def approved_app(pki):
    app = services.application_create(data=demo_application_input(41), actor="test")
    app, _token = services.application_approve(application_id=app.pk, actor="test")
    return app


def test_application_page_lists_every_document(client, approved_app):
    resp = client.get(f"/m/a/{approved_app.access_token}/")
    html = resp.content.decode()
    assert resp.status_code == 200
    for title in (
        "电子投保单",
        "交强险费率浮动告知书",
        "责任免除事项说明书",
        "实名缴费授权声明",
        "个人信息保护政策",
        "个人信息处理授权书",
    ):
        assert title in html
    assert "阅读全部文件后可签名（还有 7 份）" in html


def test_posting_a_signature_before_reading_is_refused_by_the_server(client, approved_app):
    resp = client.post(f"/m/a/{approved_app.access_token}/sign/", {"signature": drawn_signature_png()})
    assert resp.status_code == 409
    assert 'data-code="documents_not_read"' in resp.content.decode()
    approved_app.refresh_from_db()
    assert approved_app.status == "approved"


def test_document_page_records_reading_and_links_the_next(client, approved_app):
    resp = client.get(f"/m/a/{approved_app.access_token}/doc/application_form/")
    assert resp.status_code == 200 and "第 1 / 7 份" in resp.content.decode()
    assert approved_app.reads.filter(code="application_form").exists()
    assert client.get(f"/m/a/{approved_app.access_token}/doc/nope/").status_code == 404


def test_form_pdf_is_the_archived_one(client, approved_app):
    resp = client.get(f"/m/a/{approved_app.access_token}/form.pdf")
    from epolicy.common.crypto import sha256_hex

    assert sha256_hex(resp.content) == approved_app.form_document.sha256


def test_pay_before_signing_is_refused_on_the_page(client, approved_app):
    resp = client.post(f"/m/a/{approved_app.access_token}/pay/")
    assert resp.status_code == 409 and 'data-code="not_signed"' in resp.content.decode()


def test_otp_page_after_signing_sends_and_verifies(client, approved_app):
    read_all_documents(approved_app)
    resp = client.post(f"/m/a/{approved_app.access_token}/sign/", {"signature": drawn_signature_png()})
    assert resp.status_code == 302 and resp["Location"].endswith("/otp/")
    resp = client.post(f"/m/a/{approved_app.access_token}/otp/", {"action": "send"})
    assert "验证码已发送" in resp.content.decode()
    resp = client.post(f"/m/a/{approved_app.access_token}/otp/", {"action": "verify", "code": "12"})
    assert 'data-code="otp_invalid"' in resp.content.decode()


def test_unknown_link_page(client, db):
    resp = client.get("/m/a/nope/")
    assert resp.status_code == 404 and "投保链接无效" in resp.content.decode()


def test_query_page_with_a_bad_captcha(client, db):
    resp = client.post(
        "/query/",
        {
            "policy_number": "PDZA1",
            "id_number": "1",
            "plate": "京A",
            "captcha_id": "x",
            "captcha_answer": "y",
        },
    )
    assert resp.status_code == 422 and 'data-code="captcha_invalid"' in resp.content.decode()


def test_verify_page_without_a_file(client, db):
    resp = client.post("/verify/")
    assert resp.status_code == 422 and "请选择要验真的电子保单" in resp.content.decode()


def test_sandbox_cashier_needs_payer_details(client, approved_app):
    from epolicy.payments.models import SandboxTransaction
    from epolicy.payments.providers.sandbox import SandboxGateway

    url = SandboxGateway().create_payment(
        order_no="PAY1", amount_fen=100, subject="t", notify_url="http://x/", return_url="http://x/"
    )
    txn = SandboxTransaction.objects.get()
    assert url.endswith(f"/sandbox/pay/{txn.txn_id}/")
    resp = client.post(f"/sandbox/pay/{txn.txn_id}/", {"payer_name": "", "payer_id_number": ""})
    assert resp.status_code == 422
    assert client.get("/sandbox/pay/NOPE/").status_code == 404


@pytest.mark.parametrize("path", ["/query/", "/verify/"])
def test_the_public_pages_answer_head_like_get(client, db, path):
    """A link checker or monitor asks with HEAD: the same status and headers as GET, no body."""
    get = client.get(path, REMOTE_ADDR="10.77.0.1")
    head = client.head(path, REMOTE_ADDR="10.77.0.2")
    assert get.status_code == head.status_code == 200
    assert head["Content-Type"] == get["Content-Type"] and head.content == b""


def test_head_of_the_query_page_makes_no_captcha(client, db):
    """A monitor polling with HEAD must not use up its address's hourly captcha allowance."""
    from epolicy.identity.models import Captcha

    for _ in range(3):
        assert client.head("/query/", REMOTE_ADDR="10.77.0.3").status_code == 200
    assert Captcha.objects.count() == 0
    assert client.get("/query/", REMOTE_ADDR="10.77.0.3").status_code == 200
    assert Captcha.objects.count() == 1
