"""Demo results are spread over the last 14 days, so the home page's chart shows a fortnight rather
than one bar; each recording keeps its result after it in time."""

import datetime

import pytest
from django.utils import timezone

from diagnostics.demo import seed_demo_recordings
from diagnostics.models import Diagnostic
from tests.factories import PatientFactory


@pytest.mark.django_db
def test_demo_results_fall_on_several_of_the_last_14_days(production_model, clinician, site):
    for _ in range(6):
        PatientFactory(site=site)

    assert seed_demo_recordings() == 12

    today = timezone.localdate()
    days = {timezone.localtime(d.finished_at).date() for d in Diagnostic.objects.all()}
    assert len(days) >= 4
    assert all(today - datetime.timedelta(days=14) < day <= today for day in days)
    for diagnostic in Diagnostic.objects.select_related("recording"):
        assert diagnostic.recording.created_at <= diagnostic.queued_at <= diagnostic.finished_at
