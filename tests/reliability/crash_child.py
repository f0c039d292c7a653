"""Runs inside the crash test's installation (its own database, var/ and secrets), as a separate process.

python tests/reliability/crash_child.py prepare N   applications ready to pay, paid on the sandbox
                                                    cashier; prints the gateway's signed notifications
python tests/reliability/crash_child.py state       progress, as JSON
python tests/reliability/crash_child.py check       the invariants after the crashes, as JSON
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django

django.setup()


def prepare(count: int) -> list[dict]:
    from django.conf import settings

    from epolicy.motor.demo import demo_application_input
    from epolicy.motor.journey import journey_until_payment
    from epolicy.payments.models import SandboxTransaction
    from epolicy.payments.providers.sandbox import SandboxGateway
    from epolicy.payments.services import payment_start

    # Every demo journey signs and passes its SMS check from one address; the hourly limits per address
    # are not what the crash tests are about (only this preparing process sees them raised).
    settings.OTP = {**settings.OTP, "max_per_ip_per_hour": 10 * count + 20}
    settings.SIGNATURE_MAX_PER_CLIENT_PER_HOUR = 10 * count + 20
    gateway = SandboxGateway()
    out = []
    for seed in range(count):
        app = journey_until_payment(demo_application_input(500 + seed))
        order, _url = payment_start(application_id=app.pk, actor="test")
        txn = SandboxTransaction.objects.get(merchant_order_no=order.order_no)
        gateway.payer_submits(
            txn, payer_name=app.applicant.name, payer_id_number=app.applicant.id_number, succeed=True
        )
        body, headers = gateway.signed_notification(txn)
        out.append(
            {"application": app.number, "url": txn.notify_url, "body": body.decode(), "headers": headers}
        )
    return out


def state() -> dict:
    from epolicy.motor.models import Application
    from epolicy.ops.models import OutboxJob

    return {
        "applications": dict(Application.objects.values_list("number", "status")),
        "jobs_open": OutboxJob.objects.exclude(status="done").count(),
    }


def check() -> dict:
    from django.conf import settings

    from epolicy.archive.models import ArchivedObject
    from epolicy.archive.storage import archive_storage, backup_storage
    from epolicy.motor.models import Application
    from epolicy.notifications.models import Delivery
    from epolicy.ops.models import OutboxJob
    from epolicy.policies.models import Policy

    mail_dir = Path(settings.EMAIL_FILE_PATH)
    mails = [p.read_text(errors="replace") for p in mail_dir.glob("*")] if mail_dir.exists() else []
    result = {}
    for app in Application.objects.all():
        policies = list(Policy.objects.filter(application=app))
        entry: dict = {"status": app.status, "policies": len(policies)}
        if len(policies) == 1:
            policy = policies[0]
            objects = ArchivedObject.objects.of(policy, policy.application)
            entry["objects"] = objects.count()
            entry["unreplicated"] = sum(
                1
                for o in objects
                if o.replicated_at is None
                or not archive_storage().exists(o.key)
                or not backup_storage().exists(o.key)
            )
            message_id = f"Message-ID: <epolicy.{policy.number}@"
            entry["mails"] = sum(m.count(message_id) for m in mails)
            entry["mail_logs_sent"] = Delivery.objects.filter(
                notification__event="motor.policy_issued",
                notification__dedupe_key=policy.number,
                channel="email",
                status="sent",
            ).count()
        result[app.number] = entry
    return {"applications": result, "jobs_open": OutboxJob.objects.exclude(status="done").count()}


if __name__ == "__main__":
    command = sys.argv[1]
    if command == "prepare":
        print(json.dumps(prepare(int(sys.argv[2])), ensure_ascii=False))
    elif command == "state":
        print(json.dumps(state()))
    elif command == "check":
        print(json.dumps(check()))
    else:
        raise SystemExit(f"unknown command {command}")
