"""Binding by ID number + SMS code, the policy list, downloads of the e-policy, the mark and the
e-endorsements, someone else's policy, verification, unbinding."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection

from epolicy.archive.models import ArchivedObject
from epolicy.archive.services import archive_put
from epolicy.common import clock
from epolicy.identity.models import OtpChallenge, WeChatBinding
from epolicy.notifications.models import SmsMessage
from epolicy.parties.models import Customer

from .conftest import INSURED, WeChatUser

pytestmark = pytest.mark.django_db


def test_binding_with_the_right_code_lists_the_policy(wx, quick_policy):
    policy = quick_policy(7)
    sent = wx.send_code(policy.applicant.id_number)
    assert sent.status_code == 200 and "验证码已发送至保单预留的手机号" in sent.content.decode()
    assert policy.applicant.phone not in sent.content.decode()  # not even masked: it would tell
    answer = wx.bind(policy.applicant)
    assert answer.status_code == 302 and answer["Location"] == "/wx/policies/?bound=1"
    page = wx.client.get(answer["Location"]).content.decode()
    assert (
        "绑定成功" in page
        and policy.number in page
        and "有效" in page
        and "机动车交通事故责任强制保险" in page
    )
    assert f"{policy.period_start:%Y-%m-%d} 至 {policy.period_end:%Y-%m-%d}" in page
    binding = WeChatBinding.objects.get()
    assert binding.customer_id == policy.applicant_id
    # The openid is encrypted at rest; only its keyed index is in clear.
    with connection.cursor() as cursor:
        cursor.execute("SELECT openid, openid_index FROM identity_wechatbinding")
        raw, index = cursor.fetchone()
    assert raw.startswith("v") and binding.openid not in raw and index == binding.openid_index
    assert binding.openid.startswith("o")


def test_a_wrong_code_binds_nothing(wx, quick_policy):
    policy = quick_policy(7)
    wx.send_code(policy.applicant.id_number)
    answer = wx.enter_code("000000")
    assert answer.status_code == 422 and 'data-code="otp_invalid"' in answer.content.decode()
    assert "还可尝试 4 次" in answer.content.decode()
    assert not WeChatBinding.objects.exists()
    assert wx.client.get("/wx/policies/")["Location"] == "/wx/bind/"


def test_an_unknown_id_number_gets_the_same_answers_as_a_known_one(wx, quick_policy):
    policy = quick_policy(7)
    known = wx.send_code(policy.applicant.id_number).content.decode()
    other = WeChatUser(wx.client.__class__(), "另一人的微信")
    assert other.sign_in().status_code == 302
    unknown = other.send_code("110108197505050032").content.decode()
    notice = "如该证件号码是我公司车险保单的投保人或被保险人，验证码已发送至保单预留的手机号"
    assert notice in known and notice in unknown
    assert SmsMessage.objects.count() == 1  # only the known person's phone got a text
    wrong = other.enter_code("123456")
    assert wrong.status_code == 422 and "还可尝试 4 次" in wrong.content.decode()
    again = other.send_code("110108197505050032")
    assert again.status_code == 429 and 'data-code="otp_cooldown"' in again.content.decode()
    assert OtpChallenge.objects.filter(purpose="wechat_bind").count() == 2


def test_the_insured_binds_too_and_a_code_is_tied_to_the_wechat_that_asked(wx, quick_policy):
    policy = quick_policy(8, insured=INSURED)
    insured = policy.application.insured
    assert insured.pk != policy.applicant_id
    wx.send_code(insured.id_number)
    from epolicy.common.masking import mask_phone
    from epolicy.motor.journey import latest_sms_code

    code = latest_sms_code(mask_phone(insured.phone))
    # Someone else who reads the code cannot use it in their own WeChat.
    thief = WeChatUser(wx.client.__class__(), "别人的微信")
    thief.sign_in()
    thief.send_code(insured.id_number)
    assert thief.enter_code(code).status_code == 422
    assert wx.enter_code(code).status_code == 302
    assert policy.number in wx.client.get("/wx/policies/").content.decode()


def test_a_person_bound_to_no_policy_sees_an_empty_list_with_an_explanation(wx, db):
    person = Customer.objects.create(
        name="无保单", id_number="110108197505050032", phone="13900002222", email="", address=""
    )
    openid = _openid_of(wx)
    WeChatBinding.objects.create(openid=openid, customer=person, created_at=clock.now())
    page = wx.client.get("/wx/policies/")
    assert page.status_code == 200
    assert 'id="no-policies"' in page.content.decode() and "暂无车险电子保单" in page.content.decode()


def _openid_of(user: WeChatUser) -> str:
    from epolicy.wechat import views

    return views.services.unseal_openid(user.client.session[views.SESSION_OPENID])


@pytest.fixture
def bound(wx, quick_policy):
    """The signed-in user bound to the applicant of one policy; another person's policy beside it."""
    mine = quick_policy(7)
    theirs = quick_policy(9)
    assert wx.bind(mine.applicant).status_code == 302
    return wx, mine, theirs


def test_downloads_of_the_policy_the_mark_and_an_endorsement(bound):
    from epolicy.archive.services import archive_read

    wx, mine, _theirs = bound
    endorsement = archive_put(
        data=b"%PDF-1.7 e-endorsement EDZA0001",
        kind=ArchivedObject.Kind.ENDORSEMENT,
        name="EDZA20270101000001",
        subject=mine,
    )
    page = wx.client.get(f"/wx/p/{mine.number}/").content.decode()
    assert "EDZA20270101000001" in page and 'id="download-mark"' in page
    pdf = wx.client.get(f"/wx/p/{mine.number}/policy.pdf")
    assert pdf.status_code == 200 and pdf.content == archive_read(mine.document)
    assert pdf["Content-Disposition"] == f'attachment; filename="{mine.number}.pdf"'
    mark = wx.client.get(f"/wx/p/{mine.number}/mark.pdf")
    assert mark.status_code == 200 and mark.content == archive_read(mine.mark_document)
    got = wx.client.get(f"/wx/p/{mine.number}/e/{endorsement.public_id}.pdf")
    assert got.status_code == 200 and got.content == b"%PDF-1.7 e-endorsement EDZA0001"
    assert got["Content-Disposition"] == 'attachment; filename="EDZA20270101000001.pdf"'


def test_another_persons_policy_is_the_same_404_as_a_missing_one(bound):
    wx, mine, theirs = bound
    missing = wx.client.get("/wx/p/PDZA000000000000999/")
    other = wx.client.get(f"/wx/p/{theirs.number}/")
    assert missing.status_code == other.status_code == 404
    assert missing.content == other.content and theirs.number not in other.content.decode()
    assert 'data-code="not_found"' in other.content.decode()
    for suffix in ("policy.pdf", "mark.pdf"):
        refused = wx.client.get(f"/wx/p/{theirs.number}/{suffix}")
        assert refused.status_code == 404 and refused.content == missing.content
    # Their endorsement under my policy's address, or under theirs: the same.
    foreign = archive_put(
        data=b"%PDF-1.7 their endorsement", kind=ArchivedObject.Kind.ENDORSEMENT, name="E2", subject=theirs
    )
    assert wx.client.get(f"/wx/p/{mine.number}/e/{foreign.public_id}.pdf").status_code == 404
    assert wx.client.get(f"/wx/p/{theirs.number}/e/{foreign.public_id}.pdf").status_code == 404
    assert theirs.number not in wx.client.get("/wx/policies/").content.decode()


def test_a_policy_without_a_mark_offers_none(wx, quick_policy):
    policy = quick_policy(7, mark=False)
    wx.bind(policy.applicant)
    assert 'id="download-mark"' not in wx.client.get(f"/wx/p/{policy.number}/").content.decode()
    assert wx.client.get(f"/wx/p/{policy.number}/mark.pdf").status_code == 404


def test_policies_issued_later_to_the_same_person_are_listed_without_binding_again(bound, quick_policy):
    wx, mine, _theirs = bound
    later = quick_policy(7)  # the same demo person applies again: a new Customer row, the same ID number
    assert later.applicant_id != mine.applicant_id
    page = wx.client.get("/wx/policies/").content.decode()
    assert mine.number in page and later.number in page


def test_downloads_are_rate_limited(bound, settings):
    wx, mine, _theirs = bound
    settings.WECHAT_PAGES = {**settings.WECHAT_PAGES, "downloads_per_hour": 2}
    codes = [wx.client.get(f"/wx/p/{mine.number}/policy.pdf").status_code for _ in range(3)]
    assert codes == [200, 200, 429]


def test_binding_attempts_and_codes_are_rate_limited(wx, quick_policy, settings):
    settings.WECHAT_PAGES = {**settings.WECHAT_PAGES, "bind_attempts_per_hour": 2, "sms_per_hour": 1}
    policy = quick_policy(7)
    wx.send_code(policy.applicant.id_number)
    assert wx.send_code("110108197505050032").status_code == 429
    codes = [wx.enter_code("000000").status_code for _ in range(3)]
    assert codes == [422, 422, 429]


def test_sign_in_is_rate_limited(client, settings):
    settings.WECHAT_PAGES = {**settings.WECHAT_PAGES, "signins_per_hour": 2}
    codes = [client.get("/wx/signin/").status_code for _ in range(3)]
    assert codes == [302, 302, 429]


def test_unbinding_forgets_the_person(bound):
    wx, mine, _theirs = bound
    answer = wx.client.post("/wx/unbind/")
    assert answer.status_code == 200 and "已解除绑定" in answer.content.decode()
    assert not WeChatBinding.objects.exists()
    assert wx.client.get("/wx/policies/")["Location"] == "/wx/bind/"
    assert wx.client.get(f"/wx/p/{mine.number}/").status_code == 404


def test_every_wechat_page_is_under_the_flood_floor():
    from epolicy.common.middleware import PUBLIC_PREFIXES
    from epolicy.wechat.urls import urlpatterns

    assert "/wx/" in PUBLIC_PREFIXES
    assert urlpatterns  # every one of them is under /wx/ (config/urls.py)


def test_verify_an_upload(bound, settings):
    wx, _mine, _theirs = bound
    page = wx.client.get("/wx/verify/")
    assert page.status_code == 200 and "不超过 10 MB" in page.content.decode()
    missing = wx.client.post("/wx/verify/")
    assert missing.status_code == 422 and 'data-code="verify_file_missing"' in missing.content.decode()
    settings.VERIFY_MAX_UPLOAD_BYTES = 100
    big = wx.client.post(
        "/wx/verify/", {"file": SimpleUploadedFile("p.pdf", b"%PDF" + b"0" * 200, "application/pdf")}
    )
    assert big.status_code == 413 and 'data-code="verify_file_too_large"' in big.content.decode()
