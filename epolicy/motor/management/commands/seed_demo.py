from __future__ import annotations

import secrets
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from epolicy.motor import selectors, services
from epolicy.motor.demo import demo_application_input
from epolicy.motor.journey import run_journey
from epolicy.motor.models import Application


class Command(BaseCommand):
    help = (
        "Create demo data: a staff user, one approved application awaiting the applicant, one issued policy."
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
            policy = run_journey(demo_application_input(1, name="张三", email="zhangsan@example.com"))
            app = policy.application
            self.stdout.write(
                f"demo policy {policy.number}: query with ID {app.applicant.id_number} and plate {app.plate}"
            )
            pending = services.application_create(
                data=demo_application_input(2, name="李四"), actor="system:demo"
            )
            services.application_approve(application_id=pending.pk, actor="system:demo")
        waiting = Application.objects.filter(status=Application.Status.APPROVED).first()
        if waiting is not None:
            self.stdout.write(f"demo applicant link ({waiting.number}): {selectors.customer_url(waiting)}")
        from django.core.management import call_command

        call_command("seed_life_demo", stdout=self.stdout)
        if creds.exists():
            self.stdout.write(creds.read_text().strip())
