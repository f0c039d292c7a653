"""Life policies' personal data encrypted at rest, in place: the applicant's name, each version's
state (names, address, account holder), each change's params and quote (its new state included).

The columns become text (the JSON ones holding the same JSON: PostgreSQL converts with USING col::text),
each clear value is replaced by its ciphertext (of the JSON text), then the fields become an
EncryptedTextField and EncryptedJSONFields. Reversible: going back decrypts every column and restores
the JSON columns.
"""

from django.db import migrations, models

import epolicy.common.fields
from epolicy.common import crypto

BATCH = 500
# model name -> {column: encryption context}
COLUMNS = {
    "LifePolicy": {"applicant_name": "servicing.lifepolicy.applicant_name"},
    "LifePolicyVersion": {"state": "servicing.lifepolicyversion.state"},
    "PolicyChange": {
        "params": "servicing.policychange.params",
        "quote": "servicing.policychange.quote",
    },
}


def _batches(model, db):
    pks = list(model.objects.using(db).order_by("pk").values_list("pk", flat=True))
    for start in range(0, len(pks), BATCH):
        yield list(model.objects.using(db).filter(pk__in=pks[start : start + BATCH]))


def _rewrite(apps, schema_editor, transform):
    db = schema_editor.connection.alias
    for model_name, columns in COLUMNS.items():
        model = apps.get_model("servicing", model_name)
        for rows in _batches(model, db):
            for row in rows:
                for column, context in columns.items():
                    value = getattr(row, column)
                    setattr(row, column, transform(value, context=context) if value else "")
            model.objects.using(db).bulk_update(rows, list(columns))


def encrypt(apps, schema_editor):
    _rewrite(apps, schema_editor, crypto.encrypt)


def decrypt(apps, schema_editor):
    _rewrite(apps, schema_editor, crypto.decrypt)


class Migration(migrations.Migration):
    dependencies = [
        ("parties", "0002_encrypt_customer_name"),
        ("servicing", "0001_initial"),
    ]

    operations = [
        migrations.AlterField(model_name="lifepolicy", name="applicant_name", field=models.TextField()),
        migrations.AlterField(model_name="lifepolicyversion", name="state", field=models.TextField()),
        migrations.AlterField(
            model_name="policychange", name="params", field=models.TextField(blank=True, default="")
        ),
        migrations.AlterField(
            model_name="policychange", name="quote", field=models.TextField(blank=True, default="")
        ),
        migrations.RunPython(encrypt, decrypt, elidable=False),
        migrations.AlterField(
            model_name="lifepolicy",
            name="applicant_name",
            field=epolicy.common.fields.EncryptedTextField(context=COLUMNS["LifePolicy"]["applicant_name"]),
        ),
        migrations.AlterField(
            model_name="lifepolicyversion",
            name="state",
            field=epolicy.common.fields.EncryptedJSONField(context=COLUMNS["LifePolicyVersion"]["state"]),
        ),
        migrations.AlterField(
            model_name="policychange",
            name="params",
            field=epolicy.common.fields.EncryptedJSONField(
                context=COLUMNS["PolicyChange"]["params"], default=dict
            ),
        ),
        migrations.AlterField(
            model_name="policychange",
            name="quote",
            field=epolicy.common.fields.EncryptedJSONField(
                context=COLUMNS["PolicyChange"]["quote"], default=dict
            ),
        ),
    ]
