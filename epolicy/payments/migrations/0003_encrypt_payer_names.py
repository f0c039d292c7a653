"""Payers' names (payment orders and the sandbox gateway's transactions) encrypted at rest, in place.

Each column becomes text, each clear name is replaced by its ciphertext, then the field becomes an
EncryptedTextField. Reversible: going back decrypts the names into the same columns.
"""

from django.db import migrations, models

import epolicy.common.fields
from epolicy.common import crypto

BATCH = 500
# model name -> context of its payer_name column
CONTEXTS = {
    "PaymentOrder": "payments.paymentorder.payer_name",
    "SandboxTransaction": "payments.sandbox.payer_name",
}


def _batches(model, db):
    pks = list(model.objects.using(db).order_by("pk").values_list("pk", flat=True))
    for start in range(0, len(pks), BATCH):
        yield list(model.objects.using(db).filter(pk__in=pks[start : start + BATCH]))


def _rewrite(apps, schema_editor, transform):
    db = schema_editor.connection.alias
    for model_name, context in CONTEXTS.items():
        model = apps.get_model("payments", model_name)
        for rows in _batches(model, db):
            for row in rows:
                row.payer_name = transform(row.payer_name, context=context) if row.payer_name else ""
            model.objects.using(db).bulk_update(rows, ["payer_name"])


def encrypt_payer_names(apps, schema_editor):
    _rewrite(apps, schema_editor, crypto.encrypt)


def decrypt_payer_names(apps, schema_editor):
    _rewrite(apps, schema_editor, crypto.decrypt)


class Migration(migrations.Migration):
    dependencies = [
        ("payments", "0002_refunds_through_outbox"),
    ]

    operations = [
        migrations.AlterField(
            model_name="paymentorder",
            name="payer_name",
            field=models.TextField(blank=True, default=""),
        ),
        migrations.AlterField(
            model_name="sandboxtransaction",
            name="payer_name",
            field=models.TextField(blank=True, default=""),
        ),
        migrations.RunPython(encrypt_payer_names, decrypt_payer_names, elidable=False),
        migrations.AlterField(
            model_name="paymentorder",
            name="payer_name",
            field=epolicy.common.fields.EncryptedTextField(
                blank=True, context=CONTEXTS["PaymentOrder"], default=""
            ),
        ),
        migrations.AlterField(
            model_name="sandboxtransaction",
            name="payer_name",
            field=epolicy.common.fields.EncryptedTextField(
                blank=True, context=CONTEXTS["SandboxTransaction"], default=""
            ),
        ),
    ]
