"""Plates, VINs and engine numbers encrypted at rest, in place, with blind indexes of plate and VIN;
the payer's name masked in the database copy of payment evidence.

Each column becomes text; the blind indexes are computed from the clear values (normalised as
`epolicy.motor.models.plate_key` / `vin_key` do, copied here so that this migration stays as it ran);
each clear value is replaced by its ciphertext; then the fields become EncryptedTextFields.
Reversible, except the evidence masking: going back decrypts the vehicle columns and drops the indexes,
but a masked payer name stays masked (one-way on purpose: the full evidence is the archived file the
record points to, whose SHA-256 it carries).
"""

import unicodedata

from django.db import migrations, models

import epolicy.common.fields
from epolicy.common import crypto

BATCH = 500
CONTEXTS = {
    "plate": "motor.application.plate",
    "vin": "motor.application.vin",
    "engine_number": "motor.application.engine_number",
}
PLATE_SEPARATORS = "·•・.-"


def _batches(model, db):
    pks = list(model.objects.using(db).order_by("pk").values_list("pk", flat=True))
    for start in range(0, len(pks), BATCH):
        yield list(model.objects.using(db).filter(pk__in=pks[start : start + BATCH]))


def _plate_key(plate):
    text = unicodedata.normalize("NFKC", plate or "").translate(dict.fromkeys(map(ord, PLATE_SEPARATORS)))
    return "".join(text.split()).upper()


def _vin_key(vin):
    return "".join(unicodedata.normalize("NFKC", vin or "").split()).upper()


def _seal(value, context):
    return crypto.encrypt(value, context=context) if value else ""


def _open(value, context):
    return crypto.decrypt(value, context=context) if value else ""


def encrypt_vehicles(apps, schema_editor):
    application_model = apps.get_model("motor", "Application")
    db = schema_editor.connection.alias
    for rows in _batches(application_model, db):
        for row in rows:
            row.plate_index = crypto.blind_index(_plate_key(row.plate), context="plate")
            row.vin_index = crypto.blind_index(_vin_key(row.vin), context="vin")
            for field, context in CONTEXTS.items():
                setattr(row, field, _seal(getattr(row, field), context))
        application_model.objects.using(db).bulk_update(rows, [*CONTEXTS, "plate_index", "vin_index"])


def decrypt_vehicles(apps, schema_editor):
    application_model = apps.get_model("motor", "Application")
    db = schema_editor.connection.alias
    for rows in _batches(application_model, db):
        for row in rows:
            for field, context in CONTEXTS.items():
                setattr(row, field, _open(getattr(row, field), context))
        application_model.objects.using(db).bulk_update(rows, list(CONTEXTS))


def _mask_name(name):
    text = (name or "").strip()
    return text if len(text) <= 1 else text[0] + "*" * (len(text) - 1)


def mask_payment_evidence(apps, schema_editor):
    evidence_model = apps.get_model("motor", "EvidenceRecord")
    db = schema_editor.connection.alias
    for rows in _batches(evidence_model, db):
        payments = [r for r in rows if r.kind == "payment" and isinstance(r.data, dict)]
        for row in payments:
            row.data = {**row.data, "payer_name": _mask_name(row.data.get("payer_name"))}
        if payments:
            evidence_model.objects.using(db).bulk_update(payments, ["data"])


class Migration(migrations.Migration):
    dependencies = [
        ("motor", "0003_application_created_by_client"),
    ]

    operations = [
        migrations.AlterField(model_name="application", name="plate", field=models.TextField()),
        migrations.AlterField(model_name="application", name="vin", field=models.TextField()),
        migrations.AlterField(model_name="application", name="engine_number", field=models.TextField()),
        migrations.AddField(
            model_name="application",
            name="plate_index",
            field=models.CharField(db_index=True, default="", max_length=64),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="application",
            name="vin_index",
            field=models.CharField(db_index=True, default="", max_length=64),
            preserve_default=False,
        ),
        migrations.RunPython(encrypt_vehicles, decrypt_vehicles, elidable=False),
        migrations.RunPython(mask_payment_evidence, migrations.RunPython.noop, elidable=False),
        migrations.AlterField(
            model_name="application",
            name="plate",
            field=epolicy.common.fields.EncryptedTextField(context=CONTEXTS["plate"]),
        ),
        migrations.AlterField(
            model_name="application",
            name="vin",
            field=epolicy.common.fields.EncryptedTextField(context=CONTEXTS["vin"]),
        ),
        migrations.AlterField(
            model_name="application",
            name="engine_number",
            field=epolicy.common.fields.EncryptedTextField(context=CONTEXTS["engine_number"]),
        ),
    ]
