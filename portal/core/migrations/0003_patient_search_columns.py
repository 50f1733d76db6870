"""Folded search columns on patients (accent- and case-insensitive prefix search), filled in for
the patients that already exist."""

import unicodedata

from django.conf import settings
from django.db import migrations, models

BATCH = 2000


def _search_key(text):
    # A frozen copy of portal.core.models.search_key: migrations must not change when the model does.
    decomposed = unicodedata.normalize("NFKD", text or "")
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(bare.casefold().split())


def fill_search_columns(apps, schema_editor):
    patient_model = apps.get_model("portal", "Patient")
    last_id = 0
    while True:
        batch = list(patient_model.objects.filter(id__gt=last_id).order_by("id")[:BATCH])
        if not batch:
            return
        for patient in batch:
            patient.search_name = _search_key(f"{patient.family_name} {patient.given_name}")
            patient.search_name_reversed = _search_key(
                f"{patient.given_name} {patient.family_name}"
            )
            patient.search_external_id = _search_key(patient.external_id)
        patient_model.objects.bulk_update(
            batch, ["search_name", "search_name_reversed", "search_external_id"]
        )
        last_id = batch[-1].id


class Migration(migrations.Migration):

    dependencies = [
        ('portal', '0002_audit_events_append_only'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name='patient',
            name='search_external_id',
            field=models.CharField(blank=True, editable=False, max_length=64),
        ),
        migrations.AddField(
            model_name='patient',
            name='search_name',
            field=models.CharField(blank=True, editable=False, max_length=310),
        ),
        migrations.AddField(
            model_name='patient',
            name='search_name_reversed',
            field=models.CharField(blank=True, editable=False, max_length=310),
        ),
        migrations.RunPython(fill_search_columns, migrations.RunPython.noop, elidable=True),
        migrations.AddIndex(
            model_name='patient',
            index=models.Index(fields=['search_name', 'id'], name='patient_search_name_id'),
        ),
        migrations.AddIndex(
            model_name='patient',
            index=models.Index(fields=['search_name'], name='patient_search_name_like', opclasses=['varchar_pattern_ops']),
        ),
        migrations.AddIndex(
            model_name='patient',
            index=models.Index(fields=['search_name_reversed'], name='patient_search_reversed_like', opclasses=['varchar_pattern_ops']),
        ),
        migrations.AddIndex(
            model_name='patient',
            index=models.Index(fields=['search_external_id'], name='patient_search_extid_like', opclasses=['varchar_pattern_ops']),
        ),
    ]
