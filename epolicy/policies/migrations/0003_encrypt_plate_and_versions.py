"""Policies' plates and their versions' display data (names, plate, VIN, engine number as printed)
encrypted at rest, in place, with a blind index of the plate for the public query.

The plate column becomes text (its index on the clear plate goes), `plate_index` is computed from the
clear plate (normalised as `epolicy.motor.models.plate_key` does, copied here so that this migration
stays as it ran), the JSON column becomes text holding the same JSON, each clear value is replaced by
its ciphertext (of the JSON text), then the fields become an EncryptedTextField and an
EncryptedJSONField. Reversible: going back decrypts both columns and restores the JSON column.
"""

import unicodedata

from django.db import migrations, models

import epolicy.common.fields
from epolicy.common import crypto

BATCH = 500
PLATE_CONTEXT = "policies.policy.plate"
DATA_CONTEXT = "policies.policyversion.data"
PLATE_SEPARATORS = "·•・.-"


def _batches(model, db):
    pks = list(model.objects.using(db).order_by("pk").values_list("pk", flat=True))
    for start in range(0, len(pks), BATCH):
        yield list(model.objects.using(db).filter(pk__in=pks[start : start + BATCH]))


def _plate_key(plate):
    text = unicodedata.normalize("NFKC", plate or "").translate(dict.fromkeys(map(ord, PLATE_SEPARATORS)))
    return "".join(text.split()).upper()


def _rewrite(apps, schema_editor, transform, *, index):
    db = schema_editor.connection.alias
    policy_model = apps.get_model("policies", "Policy")
    for rows in _batches(policy_model, db):
        for row in rows:
            if index:
                row.plate_index = crypto.blind_index(_plate_key(row.plate), context="plate")
            row.plate = transform(row.plate, context=PLATE_CONTEXT) if row.plate else ""
        policy_model.objects.using(db).bulk_update(rows, ["plate", "plate_index"] if index else ["plate"])
    version_model = apps.get_model("policies", "PolicyVersion")
    for rows in _batches(version_model, db):
        for row in rows:
            row.data = transform(row.data, context=DATA_CONTEXT) if row.data else ""
        version_model.objects.using(db).bulk_update(rows, ["data"])


def encrypt(apps, schema_editor):
    _rewrite(apps, schema_editor, crypto.encrypt, index=True)


def decrypt(apps, schema_editor):
    _rewrite(apps, schema_editor, crypto.decrypt, index=False)


class Migration(migrations.Migration):
    dependencies = [
        ("parties", "0002_encrypt_customer_name"),
        ("policies", "0002_policy_verify_code"),
    ]

    operations = [
        migrations.AlterField(model_name="policy", name="plate", field=models.TextField()),
        migrations.AddField(
            model_name="policy",
            name="plate_index",
            field=models.CharField(db_index=True, default="", max_length=64),
            preserve_default=False,
        ),
        # JSON to text keeps the JSON text (PostgreSQL: USING data::text).
        migrations.AlterField(model_name="policyversion", name="data", field=models.TextField()),
        migrations.RunPython(encrypt, decrypt, elidable=False),
        migrations.AlterField(
            model_name="policy",
            name="plate",
            field=epolicy.common.fields.EncryptedTextField(context=PLATE_CONTEXT),
        ),
        migrations.AlterField(
            model_name="policyversion",
            name="data",
            field=epolicy.common.fields.EncryptedJSONField(context=DATA_CONTEXT),
        ),
    ]
