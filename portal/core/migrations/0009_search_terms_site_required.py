"""The search terms' site is required, and indexed with the term (filled by 0008: a separate
migration, since PostgreSQL refuses to alter a table with the deferred foreign-key checks of the
rows 0008 updated still pending in the same transaction)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("portal", "0008_search_terms_by_site"),
    ]

    operations = [
        migrations.AlterField(
            model_name="patientsearchterm",
            name="site",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="portal.site",
                verbose_name="site",
            ),
        ),
        migrations.AddIndex(
            model_name="patientsearchterm",
            index=models.Index(
                fields=["site", "term"],
                name="patient_search_site_term",
                opclasses=["int8_ops", "varchar_pattern_ops"],
            ),
        ),
    ]
