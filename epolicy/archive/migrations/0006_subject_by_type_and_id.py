"""The archive names what each document belongs to by type and id instead of foreign keys into the
domain apps. A policy's own e-policy keeps its policy; everything else of an application (forms,
evidence) its application; a life policy's documents their life policy."""

from django.db import migrations, models


def subjects_from_links(apps, schema_editor):
    ArchivedObject = apps.get_model("archive", "ArchivedObject")
    rows = ArchivedObject.objects.only("pk", "kind", "application_id", "policy_id", "life_policy_id")
    for obj in rows.iterator():
        if obj.life_policy_id:
            subject = ("servicing.lifepolicy", obj.life_policy_id)
        elif obj.policy_id and (obj.kind == "policy" or not obj.application_id):
            subject = ("policies.policy", obj.policy_id)
        elif obj.application_id:
            subject = ("motor.application", obj.application_id)
        else:
            continue
        ArchivedObject.objects.filter(pk=obj.pk).update(subject_type=subject[0], subject_id=subject[1])


def links_from_subjects(apps, schema_editor):
    ArchivedObject = apps.get_model("archive", "ArchivedObject")
    Policy = apps.get_model("policies", "Policy")
    for obj in ArchivedObject.objects.exclude(subject_type="").iterator():
        if obj.subject_type == "servicing.lifepolicy":
            obj.life_policy_id = obj.subject_id
        elif obj.subject_type == "policies.policy":
            obj.policy_id = obj.subject_id
            obj.application_id = (
                Policy.objects.filter(pk=obj.subject_id).values_list("application_id", flat=True).first()
            )
        elif obj.subject_type == "motor.application":
            obj.application_id = obj.subject_id
        obj.save(update_fields=["life_policy_id", "policy_id", "application_id"])


class Migration(migrations.Migration):
    dependencies = [
        ("archive", "0005_public_id"),
        ("motor", "0007_nev_battery_and_charger"),
        ("policies", "0004_one_policy_per_product"),
    ]

    operations = [
        migrations.AddField(
            model_name="archivedobject",
            name="subject_type",
            field=models.CharField(blank=True, default="", max_length=64),
        ),
        migrations.AddField(
            model_name="archivedobject",
            name="subject_id",
            field=models.PositiveBigIntegerField(blank=True, null=True),
        ),
        migrations.RunPython(subjects_from_links, links_from_subjects),
        migrations.RemoveField(model_name="archivedobject", name="application"),
        migrations.RemoveField(model_name="archivedobject", name="life_policy"),
        migrations.RemoveField(model_name="archivedobject", name="policy"),
        migrations.AddIndex(
            model_name="archivedobject",
            index=models.Index(fields=["subject_type", "subject_id"], name="archive_subject"),
        ),
    ]
