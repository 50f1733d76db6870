"""Search terms carry their patient's site, on a (site, term) index: a search within a clinician's
sites reads only their terms (a common prefix at a million patients matched thousands of patients
at every site, each read only to be dropped)."""

import django.db.models.deletion
from django.db import migrations, models
from django.db.models import OuterRef, Subquery


def copy_sites(apps, schema_editor):
    patient_model = apps.get_model("portal", "Patient")
    term_model = apps.get_model("portal", "PatientSearchTerm")
    term_model.objects.update(
        site_id=Subquery(patient_model.objects.filter(pk=OuterRef("patient_id")).values("site_id"))
    )


class Migration(migrations.Migration):

    dependencies = [
        ("portal", "0007_patient_identifier"),
    ]

    operations = [
        migrations.AddField(
            model_name="patientsearchterm",
            name="site",
            field=models.ForeignKey(
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="portal.site",
                verbose_name="site",
            ),
        ),
        migrations.RunPython(copy_sites, migrations.RunPython.noop, elidable=True),
    ]
