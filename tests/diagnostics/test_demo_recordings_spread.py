"""Demo results are spread over the last 14 days, so the home page's chart shows a fortnight rather
than one bar; each recording keeps its result after it in time. A later ``make run`` finds them
there without loading TensorFlow."""

import datetime

import pytest
from django.utils import timezone

from diagnostics.demo import seed_demo_recordings
from diagnostics.models import Diagnostic
from tests.factories import PatientFactory
from tests.processes import printed_json


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


ON_A_LATER_START = """
import json, sys
import django
django.setup()
from django.core.management import call_command
call_command("seed_demo_recordings")
print(json.dumps({"tensorflow": "tensorflow" in sys.modules}))
"""


@pytest.mark.django_db(transaction=True)
def test_a_later_start_finds_the_demo_recordings_without_loading_tensorflow(
    production_model, clinician, site, process_env
):
    """``make run`` runs the command on every start: loading TensorFlow to find nothing to do
    cost 8 to 16 s of each restart."""
    PatientFactory(site=site)
    assert seed_demo_recordings() == 2

    again = printed_json(ON_A_LATER_START, env={**process_env, "LOG_LEVEL": "WARNING"})

    assert again == {"tensorflow": False}
    assert Diagnostic.objects.count() == 2
