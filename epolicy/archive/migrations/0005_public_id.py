"""Archived objects get a random public id: the API addresses them by it, not by sequential ids."""

import secrets

from django.db import migrations, models

import epolicy.archive.models


def fill(apps, schema_editor):
    ArchivedObject = apps.get_model("archive", "ArchivedObject")
    for pk in ArchivedObject.objects.values_list("pk", flat=True).iterator():
        ArchivedObject.objects.filter(pk=pk).update(public_id=secrets.token_urlsafe(18))


class Migration(migrations.Migration):
    dependencies = [("archive", "0004_life_policy_endorsements")]

    operations = [
        migrations.AddField(
            model_name="archivedobject",
            name="public_id",
            field=models.CharField(max_length=32, null=True, editable=False),
        ),
        migrations.RunPython(fill, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="archivedobject",
            name="public_id",
            field=models.CharField(
                max_length=32, unique=True, default=epolicy.archive.models.new_public_id, editable=False
            ),
        ),
    ]
