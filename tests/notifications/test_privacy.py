"""No personal data or secret in clear: not in the notification tables (read with plain SQL), not in the
sandbox outboxes, not in the logs of a delivery that fails and is retried."""

import json
import logging

import pytest
from django.db import connection

from epolicy.notifications.models import Delivery, Notification
from epolicy.notifications.services import Attachment

from .util import CODE, DISPUTE_URL, EMAIL, NAME, OPENID, PHONE, archived_pdf, emit, later

pytestmark = pytest.mark.django_db
SECRETS = {
    "phone": PHONE,
    "e-mail": EMAIL,
    "openid": OPENID,
    "name": NAME,
    "code": CODE,
    "dispute link": DISPUTE_URL.rsplit("/", 1)[1],
}
TABLES = [
    "notifications_notification",
    "notifications_notificationattachment",
    "notifications_delivery",
    "notifications_smsmessage",
    "notifications_wechatmessage",
    "ops_outboxjob",
]


def found_in_clear() -> list[tuple[str, str, str]]:
    found = set()
    with connection.cursor() as cursor:
        for table in TABLES:
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608 — ours
            columns = [c[0] for c in cursor.description]
            for row in cursor.fetchall():
                for column, value in zip(columns, row, strict=True):
                    text = str(value)
                    for what, secret in SECRETS.items():
                        if secret in text or json.dumps(secret)[1:-1] in text:
                            found.add((table, column, what))
    return sorted(found)


def test_nothing_personal_is_stored_in_clear(committed):
    obj = archived_pdf()
    with committed(execute=True):
        emit(attachments=(Attachment(obj.pk, "E2026000456.pdf"),))
        emit(event="life.otp", key="otp.1")
        emit(event="life.change_failed", key="F1")
    assert Delivery.objects.filter(status="sent").count() == 7
    assert found_in_clear() == []
    # ...and it all reads back (the console and the jobs decrypt what they need).
    change = Notification.objects.get(event="life.change_applied")
    sms = change.deliveries.get(channel="sms")
    assert sms.address == PHONE and sms.address_masked == "139****5678"
    assert DISPUTE_URL in sms.payload["text"]
    assert change.deliveries.get(channel="wechat").address_masked == "oXyZ****MNOP"


def test_logs_of_a_failing_then_retried_delivery_name_no_one(
    committed, monkeypatch, tmp_path, caplog, settings
):
    settings.EMAIL_BACKEND = "tests.notifications.util.FlakyEmailBackend"  # its error names the address
    from .util import FlakyEmailBackend

    FlakyEmailBackend.calls = 0
    monkeypatch.setenv("EPOLICY_FAILPOINTS", "notifications.sandbox.sms=raise")
    monkeypatch.setenv("EPOLICY_FAILPOINT_DIR", str(tmp_path))
    caplog.set_level(logging.DEBUG)
    with committed(execute=True):
        emit()
    from epolicy.ops.outbox import outbox_sweep

    with later(40):
        outbox_sweep()
    assert set(Delivery.objects.values_list("status", flat=True)) == {"sent"}
    assert "attempt failed (email_unreachable)" in caplog.text
    assert "Traceback" in caplog.text  # the outbox logs the handler's exception with its traceback
    for what, secret in SECRETS.items():
        assert secret not in caplog.text, what
