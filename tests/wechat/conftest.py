"""Helpers of the WeChat pages' tests: policies made fast (no signing), the sandbox sign-in as a browser
does it, and binding with the code read from the sandbox SMS outbox."""

from __future__ import annotations

import dataclasses
import datetime as dt
from urllib.parse import parse_qs, urlsplit

import pytest

from epolicy.archive.models import ArchivedObject
from epolicy.archive.services import archive_put
from epolicy.common import clock
from epolicy.common.masking import mask_phone
from epolicy.motor.demo import demo_application_input
from epolicy.motor.inputs import PersonInput
from epolicy.motor.journey import latest_sms_code
from epolicy.motor.services import application_create
from epolicy.parties.models import Customer
from epolicy.policies.models import Policy

# Distinct people (valid check digits) for the applicant and the insured of one policy.
INSURED = PersonInput(
    name="上官婉儿",
    id_number="110105198001010024",
    phone="13900001111",
    email="insured@example.com",
    address="北京市东城区示例胡同 1 号",
)


def local_path(url: str) -> str:
    """A URL of the site (settings.SITE_URL) as the test client asks for it."""
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


@pytest.fixture
def quick_policy(db):
    """A motor policy row with its application and archived PDFs (policy and mark), made without signing."""
    counter = iter(range(1, 1000))

    def make(
        seed: int = 7,
        *,
        insured: PersonInput | None = None,
        start: dt.date | None = None,
        end: dt.date | None = None,
        mark: bool = True,
    ) -> Policy:
        data = demo_application_input(seed)
        if insured is not None:
            data = dataclasses.replace(data, insured=insured)
        app = application_create(data=data, actor="system:test")
        start = start or app.period_start
        end = end or app.period_end
        n = next(counter)
        doc = archive_put(
            data=f"%PDF-1.7 policy {app.number} {n}".encode(),
            kind=ArchivedObject.Kind.POLICY,
            name=f"P{app.number}",
        )
        mark_doc = (
            archive_put(
                data=f"%PDF-1.7 mark {app.number} {n}".encode(),
                kind=ArchivedObject.Kind.MARK,
                name=f"M{app.number}",
            )
            if mark
            else None
        )
        policy = Policy.objects.create(
            number=f"PDZA{app.number[-12:]}{n:03d}",
            product="ctpl",
            status=Policy.Status.IN_FORCE,
            application=app,
            applicant=app.applicant,
            insured=app.insured,
            vin_index=app.vin_index,
            plate=app.plate,
            period_start=start,
            period_end=end,
            premium=app.premium,
            vehicle_tax=app.vehicle_tax,
            confirmed_at=clock.now(),
            document=doc,
            mark_document=mark_doc,
        )
        ArchivedObject.objects.filter(pk__in=[doc.pk, *([mark_doc.pk] if mark_doc else [])]).update(
            subject_type="policies.policy", subject_id=policy.pk
        )
        return Policy.objects.select_related("applicant", "application__insured").get(pk=policy.pk)

    return make


class WeChatUser:
    """A test client playing one WeChat user on the sandbox's consent page."""

    def __init__(self, client, nickname: str):
        self.client = client
        self.nickname = nickname

    def authorize(self, *, decision: str = "allow", snapshot: bool = False, next_path: str = ""):
        """Start the sign-in and answer the consent page; the callback address WeChat would open."""
        start = self.client.get("/wx/signin/" + (f"?next={next_path}" if next_path else ""))
        assert start.status_code == 302, start.content
        consent = urlsplit(start["Location"])
        assert consent.fragment == "wechat_redirect"
        params = {k: v[0] for k, v in parse_qs(consent.query, keep_blank_values=True).items()}
        page = self.client.get(consent.path, params)
        assert page.status_code == 200 and "申请获得以下权限" in page.content.decode()
        form = {**params, "nickname": self.nickname, "decision": decision}
        if snapshot:
            form["snapshot"] = "1"
        back = self.client.post(consent.path, form)
        assert back.status_code == 302
        return local_path(back["Location"])

    def sign_in(self, **kwargs):
        """The whole round trip; the answer of the callback."""
        return self.client.get(self.authorize(**kwargs))

    def send_code(self, id_number: str):
        return self.client.post("/wx/bind/", {"action": "send", "id_number": id_number})

    def enter_code(self, code: str):
        return self.client.post("/wx/bind/", {"action": "verify", "code": code})

    def bind(self, person: Customer):
        self.send_code(person.id_number)
        return self.enter_code(latest_sms_code(mask_phone(person.phone)))


@pytest.fixture
def wx(client):
    """A signed-in WeChat user (sandbox nickname 张三的微信)."""
    user = WeChatUser(client, "张三的微信")
    assert user.sign_in().status_code == 302
    return user
