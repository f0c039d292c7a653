"""Fixtures of the customer self-service tests: the demo life policies with the applicant's contact
points, a signed-in customer and helpers that read the codes the sandbox SMS outbox holds."""

from __future__ import annotations

import re

import pytest

from epolicy.common import clock
from epolicy.common.identifiers import id_number_check_char
from epolicy.products.life_tables import load_life_catalogue
from epolicy.rules.life.demo import demo_policies

PHONE = "13800138000"
OTHER_PHONE = "13900139000"
ID_FIRST17 = "34010419880301003"
ID_NUMBER = ID_FIRST17 + id_number_check_char(ID_FIRST17)
NAME = "张伟"
EMAIL = "zhangwei@demo.invalid"


@pytest.fixture
def life_demo(db, pki):
    from epolicy.servicing.services import life_policy_create

    catalogue = load_life_catalogue()
    numbers = {}
    for name, state in demo_policies(catalogue, clock.today()).items():
        life_policy_create(
            state=state,
            actor="test:seed",
            applicant_id_number=ID_NUMBER,
            applicant_phone=PHONE,
            applicant_email=EMAIL,
        )
        numbers[name] = state.policy_number
    return numbers


def last_code(phone: str) -> str:
    from epolicy.notifications.models import SmsMessage

    message = SmsMessage.objects.filter(phone_masked=f"{phone[:3]}****{phone[-4:]}").order_by("-id").first()
    assert message is not None, "no SMS sent"
    match = re.search(r"验证码 ?(\d{6})", message.text)
    assert match, message.text
    return match.group(1)


class Customer:
    """A phone in a browser: signs in, accepts the agreement, binds policies (through the pages)."""

    def __init__(self, client, phone: str = PHONE):
        self.client, self.phone = client, phone

    def sign_in(self):
        self.client.post("/s/login/", {"phone": self.phone, "action": "send"})
        resp = self.client.post(
            "/s/login/", {"phone": self.phone, "action": "verify", "code": last_code(self.phone)}
        )
        assert resp.status_code == 302, resp.content.decode()[:500]
        return resp

    def accept_agreement(self):
        from epolicy.selfservice.accounts import agreement_current

        doc = agreement_current()
        resp = self.client.post("/s/agreement/", {"version": doc.version, "sha256": doc.sha256})
        assert resp.status_code == 302

    def bind(self, number: str, name: str = NAME, id_number: str = ID_NUMBER):
        return self.client.post(
            "/s/policies/", {"policy_number": number, "name": name, "id_number": id_number}
        )

    def ready(self, number: str):
        self.sign_in()
        self.accept_agreement()
        resp = self.bind(number)
        assert resp.status_code == 302, resp.content.decode()[:800]
        return self


@pytest.fixture
def customer(client, life_demo):
    return Customer(client)
