"""Which reviews are a public data set's label, so the pages stop calling them a former user's.

Until now an imported label was told apart only by who made it: no one (``reviewed_by`` empty) on
a patient of a data set's site, the rule training reads (``diagnostics.training``). The labels
already imported are marked by that rule; later ones by ``record_dataset_label``.
"""

from django.db import migrations, models

# diagnostics.dataset_import.DATASETS's site codes, as they were when this migration was written.
DATASET_SITES = ("coughvid", "coswara")


def mark_imported_labels(apps, schema_editor):
    Diagnostic = apps.get_model("diagnostics", "Diagnostic")
    Diagnostic.objects.filter(
        reviewed_by__isnull=True, patient__site__code__in=DATASET_SITES
    ).exclude(review_label="").update(review_imported=True)


class Migration(migrations.Migration):
    dependencies = [
        ("diagnostics", "0010_home_page_indexes"),
    ]

    operations = [
        migrations.AddField(
            model_name="diagnostic",
            name="review_imported",
            field=models.BooleanField(
                db_default=False, default=False, verbose_name="label imported from a data set"
            ),
        ),
        migrations.RunPython(mark_imported_labels, migrations.RunPython.noop, elidable=True),
    ]
