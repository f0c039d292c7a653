from __future__ import annotations

import dataclasses
import datetime as dt
import secrets
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from epolicy.common import clock
from epolicy.motor import selectors, services
from epolicy.motor.demo import demo_application_input, demo_commercial_input
from epolicy.motor.journey import run_journey
from epolicy.motor.models import Application
from epolicy.policies.models import Policy


class Command(BaseCommand):
    help = (
        "Create demo data: a staff user, two issued 交强险 policies (one for a new car without its plate "
        "yet), and two approved applications awaiting their applicants (交强险 alone; 交强险 + 商业险 for a "
        "family car)."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        user_model = get_user_model()
        creds = settings.VAR_DIR / "demo-credentials.txt"
        if not user_model.objects.filter(username="admin").exists():
            password = secrets.token_urlsafe(9)
            user_model.objects.create_superuser("admin", "admin@example.com", password)
            creds.parent.mkdir(parents=True, exist_ok=True)
            creds.write_text(f"staff console: admin / {password}\n")
        if not Application.objects.exists():
            run_journey(demo_application_input(1, name="张三", email="zhangsan@example.com"))
            pending = services.application_create(
                data=demo_application_input(2, name="李四"), actor="system:demo"
            )
            services.application_approve(application_id=pending.pk, actor="system:demo")
            both = services.application_create(
                data=demo_commercial_input("family", seed=3), actor="system:demo"
            )
            services.application_approve(application_id=both.pk, actor="system:demo")
        if not Application.objects.filter(unregistered=True).exists():
            # A new car insured before it had its plate: the demo of adding the plate by endorsement.
            data = demo_application_input(4, name="王五", email="wangwu@example.com")
            vehicle = dataclasses.replace(
                data.vehicle, plate="", unregistered=True, registered_on=clock.today() - dt.timedelta(days=5)
            )
            run_journey(dataclasses.replace(data, vehicle=vehicle))
        # Each demo with its own people, under its own heading: the applicant link must be signed, verified
        # and paid as that application's applicant (real-name payment), not as the life demo's applicant.
        self.stdout.write("== 机动车演示 ==")
        for issued in Policy.objects.select_related("application__applicant").order_by("id")[:5]:
            app = issued.application
            plate = f"车牌 {issued.plate}" if issued.plate else f"新车未上牌（VIN {app.vin}），可在线补录号牌"
            self.stdout.write(
                f"已出单保单 {issued.number}（{issued.get_status_display()}）："
                f"投保人 {_person(app.applicant)}；{plate}"
            )
        self.stdout.write(
            f"  保单查询：{settings.SITE_URL}/query/（保单号 + 证件号 + 车牌）；"
            f"批改与退保：{settings.SITE_URL}/m/p/"
            "（保单号 + 投保人证件号 + 短信验证码，验证码见控制台“沙箱短信”）；"
            "实名认证演示银行卡 6222020200112233446、任意手机号"
        )
        waiting = (
            Application.objects.select_related("applicant")
            .filter(status=Application.Status.APPROVED)
            .order_by("id")
        )
        for app in waiting:
            bought = selectors.products_short_name(app)
            self.stdout.write(f"待投保人办理的{bought}投保单 {app.number}：投保人 {_person(app.applicant)}")
            self.stdout.write(
                f"  投保人链接（请以投保人{app.applicant.name}本人身份阅读、签名、验证和付款）："
                f"{selectors.customer_url(app)}"
            )
        self.stdout.write("")
        self.stdout.write("== 寿险保全演示 ==")
        from django.core.management import call_command

        call_command("seed_life_demo", stdout=self.stdout)
        if creds.exists():
            self.stdout.write("")
            self.stdout.write(creds.read_text().strip())


def _person(customer: Any) -> str:
    """Name, full ID number and phone of a demo person (demo data: no real person)."""
    return f"{customer.name}，身份证号 {customer.id_number}，手机 {customer.phone}（演示数据）"
