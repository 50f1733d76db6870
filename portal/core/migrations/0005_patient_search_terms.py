"""Patients are found by any word of any name part: one row per search key in
``PatientSearchTerm`` (searched by prefix on an index), with letters such as ø, æ, ß, ł and đ
transliterated; the search columns that only matched the start of the name go."""

import re
import unicodedata

from anyascii import anyascii
from django.db import migrations, models

BATCH = 2000
_APOSTROPHES = re.compile(r"['\u2019\u02bc`\u00b4]")
_NOT_ALPHANUMERIC = re.compile(r"[^0-9a-z]+")


def _search_key(text):
    # A frozen copy of portal.core.models.search_key: migrations must not change when the model does.
    folded = anyascii(unicodedata.normalize("NFC", text or "")).casefold()
    return " ".join(_NOT_ALPHANUMERIC.sub(" ", _APOSTROPHES.sub("", folded)).split())


def _terms(patient):
    terms = {_search_key(patient.external_id)}
    for name in (f"{patient.family_name} {patient.given_name}",
                 f"{patient.given_name} {patient.family_name}"):  # fmt: skip
        words = _search_key(name).split()
        terms.update(" ".join(words[start:]) for start in range(len(words)))
    terms.discard("")
    return terms


def fill_search_terms(apps, schema_editor):
    patient_model = apps.get_model("portal", "Patient")
    term_model = apps.get_model("portal", "PatientSearchTerm")
    last_id = 0
    while True:
        batch = list(patient_model.objects.filter(id__gt=last_id).order_by("id")[:BATCH])
        if not batch:
            return
        for patient in batch:
            patient.search_name = _search_key(f"{patient.family_name} {patient.given_name}")
        patient_model.objects.bulk_update(batch, ["search_name"])
        term_model.objects.bulk_create(
            term_model(patient_id=patient.id, term=term)
            for patient in batch
            for term in _terms(patient)
        )
        last_id = batch[-1].id


class Migration(migrations.Migration):

    dependencies = [
        ("portal", "0004_authentication"),
    ]

    operations = [
        migrations.CreateModel(
            name="PatientSearchTerm",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("term", models.CharField(max_length=310)),
                ("patient", models.ForeignKey(on_delete=models.deletion.CASCADE, related_name="search_terms_set", to="portal.patient")),
            ],
            options={
                "constraints": [models.UniqueConstraint(fields=("patient", "term"), name="unique_patient_search_term")],
                "indexes": [models.Index(fields=["term"], name="patient_search_term_like", opclasses=["varchar_pattern_ops"])],
            },
        ),
        migrations.RunPython(fill_search_terms, migrations.RunPython.noop, elidable=True),
        migrations.RemoveIndex(model_name="patient", name="patient_search_name_like"),
        migrations.RemoveIndex(model_name="patient", name="patient_search_reversed_like"),
        migrations.RemoveIndex(model_name="patient", name="patient_search_extid_like"),
        migrations.RemoveField(model_name="patient", name="search_name_reversed"),
        migrations.RemoveField(model_name="patient", name="search_external_id"),
    ]
