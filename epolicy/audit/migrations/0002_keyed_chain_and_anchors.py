# Keyed audit chain (HMAC-SHA256, key identifier per event) and anchors of its head in the archive.
#
# Existing events keep their plain SHA-256 and get an empty key_id: they stay verifiable as the chain's
# legacy prefix. Adding the column changes no row through UPDATE, so the append-only trigger of 0001 is
# not involved (PostgreSQL adds a column with a constant default without touching the rows; SQLite's
# schema editor copies the table into a new one).

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="auditevent",
            name="key_id",
            field=models.CharField(
                blank=True, default="", editable=False, max_length=16, verbose_name="链密钥标识"
            ),
        ),
        migrations.CreateModel(
            name="AuditAnchor",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("seq", models.PositiveBigIntegerField(db_index=True, verbose_name="锚定序号")),
                ("hash", models.CharField(max_length=64, verbose_name="锚定哈希")),
                (
                    "key_id",
                    models.CharField(blank=True, default="", max_length=16, verbose_name="链密钥标识"),
                ),
                ("anchored_at", models.DateTimeField(verbose_name="锚定时间")),
                ("timestamped_at", models.DateTimeField(verbose_name="时间戳时间")),
                ("object_key", models.CharField(max_length=255, unique=True, verbose_name="存档对象名")),
            ],
            options={
                "verbose_name": "审计锚点",
                "verbose_name_plural": "审计锚点",
                "ordering": ["-seq", "-id"],
            },
        ),
    ]
