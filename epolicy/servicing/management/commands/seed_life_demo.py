"""`epolicy seed_life_demo`: register the demo life policies (demo data of the demo catalogue) as they
stand today, once; prints each policy number, its situation and the items it can have today."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from epolicy.common import clock
from epolicy.common.identifiers import id_number_check_char
from epolicy.products.life_tables import load_life_catalogue
from epolicy.rules.life import available_items
from epolicy.rules.life.demo import demo_policies
from epolicy.rules.life.vocab import STATUS_NAMES
from epolicy.servicing.models import LifePolicy
from epolicy.servicing.services import life_policy_create, life_policy_state

ACTOR = "system:seed_life_demo"
# The demo applicant 张伟 (demo data: a valid check digit, no real person; a phone and mailbox that
# reach only the sandbox SMS outbox and the e-mail files).
DEMO_ID_FIRST17 = "34010419880301003"
DEMO_PHONE = "13800138000"
DEMO_EMAIL = "zhangwei@demo.invalid"

SITUATIONS = {
    "endowment_in_force": "两全保险，有效，第4保单年度，生存金累积生息",
    "endowment_with_loan": "两全保险，有效，60天前借款（可借额度的一半）",
    "endowment_lapsed_8_months": "两全保险，效力中止约8个月（可复效）",
    "endowment_lapsed_3_years": "两全保险，效力中止约3年（复效期已过，可退保）",
    "whole_life_in_cooling_off": "分红终身寿险，犹豫期内",
    "whole_life_in_force": "分红终身寿险，有效，第5保单年度，红利累积生息",
    "whole_life_monthly_cash": "分红终身寿险，月交，红利现金领取（有待领红利）",
    "universal_in_force": "万能险，有效，第2保单年度",
    "universal_in_cooling_off": "万能险，犹豫期内",
}


class Command(BaseCommand):
    help = "Create the demo life policies (idempotent) and print what each can be used to try."

    def handle(self, *args: Any, **options: Any) -> None:
        catalogue = load_life_catalogue()
        today = clock.today()
        id_number = DEMO_ID_FIRST17 + id_number_check_char(DEMO_ID_FIRST17)
        for name, state in demo_policies(catalogue, today).items():
            exists = LifePolicy.objects.filter(number=state.policy_number).exists()
            if not exists:
                life_policy_create(
                    state=state,
                    actor=ACTOR,
                    applicant_id_number=id_number,
                    applicant_phone=DEMO_PHONE,
                    applicant_email=DEMO_EMAIL,
                    reason="演示数据",
                )
            _policy, stored = life_policy_state(policy_number=state.policy_number)
            items = [a.name_zh for a in available_items(stored, on=today, catalogue=catalogue) if a.available]
            self.stdout.write(
                f"{state.policy_number}  {'(已存在) ' if exists else ''}{SITUATIONS.get(name, name)}"
                f"  [{STATUS_NAMES[stored.status]}]  今日可办理：{'、'.join(items) or '无'}"
            )
        self.stdout.write(
            f"寿险演示投保人（以上保单均属此人；寿险自助办理时以此身份核验）：{state.applicant.name}，"
            f"身份证号 {id_number}，手机 {DEMO_PHONE}，邮箱 {DEMO_EMAIL}（演示数据）"
        )
