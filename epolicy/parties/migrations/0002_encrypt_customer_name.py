"""Customers' names encrypted at rest (AES-256-GCM, epolicy.common.crypto), in place.

The column becomes text, each clear name is replaced by its ciphertext, then the field becomes an
EncryptedTextField. Reversible: going back decrypts the names into the same column.
"""

from django.db import migrations, models

import epolicy.common.fields
from epolicy.common import crypto

CONTEXT = "parties.customer.name"
BATCH = 500


def _batches(model, db):
    pks = list(model.objects.using(db).order_by("pk").values_list("pk", flat=True))
    for start in range(0, len(pks), BATCH):
        yield list(model.objects.using(db).filter(pk__in=pks[start : start + BATCH]))


def encrypt_names(apps, schema_editor):
    customer_model = apps.get_model("parties", "Customer")
    db = schema_editor.connection.alias
    for rows in _batches(customer_model, db):
        for row in rows:
            row.name = crypto.encrypt(row.name, context=CONTEXT) if row.name else ""
        customer_model.objects.using(db).bulk_update(rows, ["name"])


def decrypt_names(apps, schema_editor):
    customer_model = apps.get_model("parties", "Customer")
    db = schema_editor.connection.alias
    for rows in _batches(customer_model, db):
        for row in rows:
            row.name = crypto.decrypt(row.name, context=CONTEXT) if row.name else ""
        customer_model.objects.using(db).bulk_update(rows, ["name"])


class Migration(migrations.Migration):
    dependencies = [
        ("parties", "0001_initial"),
    ]

    operations = [
        migrations.AlterField(model_name="customer", name="name", field=models.TextField()),
        migrations.RunPython(encrypt_names, decrypt_names, elidable=False),
        migrations.AlterField(
            model_name="customer",
            name="name",
            field=epolicy.common.fields.EncryptedTextField(context=CONTEXT),
        ),
    ]
