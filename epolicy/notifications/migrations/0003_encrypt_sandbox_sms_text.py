"""The sandbox SMS outbox's texts encrypted at rest, in place (they carry codes and the customer's own
"不是本人操作" links). Reversible: going back decrypts them into the same column."""

from django.db import migrations

import epolicy.common.fields
from epolicy.common import crypto

BATCH = 500
CONTEXT = "notifications.sms.text"


def _rewrite(apps, schema_editor, transform):
    db = schema_editor.connection.alias
    model = apps.get_model("notifications", "SmsMessage")
    pks = list(model.objects.using(db).order_by("pk").values_list("pk", flat=True))
    for start in range(0, len(pks), BATCH):
        rows = list(model.objects.using(db).filter(pk__in=pks[start : start + BATCH]))
        for row in rows:
            row.text = transform(row.text, context=CONTEXT) if row.text else ""
        model.objects.using(db).bulk_update(rows, ["text"])


def encrypt_texts(apps, schema_editor):
    _rewrite(apps, schema_editor, crypto.encrypt)


def decrypt_texts(apps, schema_editor):
    _rewrite(apps, schema_editor, crypto.decrypt)


class Migration(migrations.Migration):
    dependencies = [
        ("notifications", "0002_notifications_and_deliveries"),
    ]

    operations = [
        migrations.RunPython(encrypt_texts, decrypt_texts, elidable=False),
        migrations.AlterField(
            model_name="smsmessage",
            name="text",
            field=epolicy.common.fields.EncryptedTextField(context=CONTEXT),
        ),
    ]
