"""The benchmarks' seed (``manage.py seed_bench``, ``bench/pages.py``, ``bench/load.py``) writes
raw SQL, so a column added to a model without a database default breaks it silently until a
benchmark runs. Seeding a few rows here keeps it in step with the models."""

import pytest
from django.db import connection

from diagnostics.models import Diagnostic, ModelVersion
from media_assets.models import Recording
from portal import seeding
from portal.core.models import Patient, Site

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the seed is PostgreSQL's"),
]


def test_seed_fills_every_table_and_the_rows_read_back_through_the_models():
    seeding.seed(sites=2, patients=30, diagnostics=200, log=lambda _: None)

    assert Site.objects.count() == 2
    assert seeding.seeded_counts() == (30, 200)
    assert Recording.objects.count() == 200
    assert ModelVersion.objects.count() == 3
    patient = Patient.objects.get(external_id="BENCH-7")
    assert (patient.given_name, patient.is_linked) == ("Given7", False)
    assert list(Patient.objects.search("family7").values_list("external_id", flat=True)) == [
        "BENCH-7"
    ]
    reviewed = Diagnostic.objects.exclude(review_label="")
    assert 0 < reviewed.count() < 200
    ModelVersion.objects.first().full_clean(exclude=["artifact"])
