"""The home page: today's recordings, results waiting, failed analyses with a retry, and the
results of the last 14 days by label as a server-rendered SVG chart."""

import datetime

import pytest
from django.core.cache import caches
from django.utils import timezone

from diagnostics.models import Diagnostic, DiagnosticStatus
from portal.core.models import Membership, Role
from portal.pages.selectors import SETTLED_S, Workspace, home_summary, settled_cut
from tests.factories import PatientFactory
from tests.factories_clinical import RecordingFactory, failed, succeeded
from tests.portal.page_helpers import events

pytestmark = pytest.mark.django_db


def test_home_counts_todays_work_of_my_sites_only(signed_in, site, other_site):
    mine = PatientFactory(site=site)
    RecordingFactory(patient=mine)
    succeeded(recording__patient=mine)
    failed(recording__patient=mine)
    old = RecordingFactory(patient=mine)
    type(old).objects.filter(pk=old.pk).update(
        created_at=timezone.now() - datetime.timedelta(days=3)
    )
    succeeded(recording__patient=PatientFactory(site=other_site))

    summary = signed_in.get("/").context["summary"]

    assert summary.recordings_today == 3
    assert summary.failed_count == (1, False)
    assert signed_in.get("/").context["workspace"].review_count == (1, False)


def test_the_chart_has_a_bar_per_day_and_a_segment_per_label(signed_in, site):
    patient = PatientFactory(site=site)
    succeeded(recording__patient=patient, label="healthy")
    succeeded(recording__patient=patient, label="healthy")
    succeeded(recording__patient=patient, label="anomaly")
    long_ago = succeeded(recording__patient=patient, label="anomaly")
    Diagnostic.objects.filter(pk=long_ago.pk).update(
        finished_at=timezone.now() - datetime.timedelta(days=20)
    )

    response = signed_in.get("/")

    chart = response.context["summary"].chart
    assert len(chart) == 14
    assert chart[-1]["counts"] == {"healthy": 2, "anomaly": 1}
    assert sum(sum(day["counts"].values()) for day in chart) == 3
    assert response.content.count(b'class="bar bar-healthy"') == 1
    assert b'<svg class="results-chart"' in response.content


def test_past_days_of_the_chart_are_read_once_and_today_on_every_visit(signed_in, site):
    patient = PatientFactory(site=site)
    yesterday = timezone.now() - datetime.timedelta(days=1)
    old = succeeded(recording__patient=patient, label="anomaly")
    Diagnostic.objects.filter(pk=old.pk).update(finished_at=yesterday)
    signed_in.get("/")  # reads the past days

    another_old = succeeded(recording__patient=patient, label="anomaly")
    Diagnostic.objects.filter(pk=another_old.pk).update(finished_at=yesterday)
    succeeded(recording__patient=patient, label="healthy")
    chart = signed_in.get("/").context["summary"].chart

    assert chart[-1]["counts"] == {"healthy": 1}  # today: at once
    assert chart[-2]["counts"] == {"anomaly": 1}  # yesterday: as first read, for a few minutes
    caches["local"].clear()  # as when those minutes are over
    assert signed_in.get("/").context["summary"].chart[-2]["counts"] == {"anomaly": 2}


def test_a_chart_of_other_sites_is_not_shared(signed_in, clinician, site, other_site):
    succeeded(recording__patient=PatientFactory(site=other_site), label="anomaly")
    Diagnostic.objects.filter(patient__site=other_site).update(
        finished_at=timezone.now() - datetime.timedelta(days=1)
    )
    signed_in.get("/")  # caches this user's sites' past days: none at other_site
    Membership.objects.create(user=clinician, site=other_site, role=Role.CLINICIAN)

    chart = signed_in.get("/").context["summary"].chart

    assert chart[-2]["counts"] == {"anomaly": 1}


def _noon_today():
    return timezone.make_aware(datetime.datetime.combine(timezone.localdate(), datetime.time(12)))


def _recorded(patient, at):
    recording = RecordingFactory(patient=patient)
    type(recording).objects.filter(pk=recording.pk).update(created_at=at)
    return recording


def _finished(patient, at, label):
    diagnostic = succeeded(recording__patient=patient, label=label)
    Diagnostic.objects.filter(pk=diagnostic.pk).update(finished_at=at)
    return diagnostic


def test_todays_settled_rows_are_read_once_a_window_and_the_last_seconds_on_every_visit(
    clinician, site
):
    """Home's counts of today read the rows before ``settled_cut`` once per window, so that a visit
    late in a busy day does not read the whole day; what came in since shows at once."""
    noon, patient = _noon_today(), PatientFactory(site=site)
    workspace = Workspace(user=clinician, sites=[site])
    minutes_ago = noon - datetime.timedelta(minutes=10)
    _recorded(patient, minutes_ago)
    _recorded(patient, noon - datetime.timedelta(seconds=1))
    assert home_summary(workspace, now=noon).recordings_today == 2

    _recorded(patient, minutes_ago)  # a settled row that changed: shows when the cut moves on
    _recorded(patient, noon)  # a new one: shows at once
    assert home_summary(workspace, now=noon).recordings_today == 3

    later = noon + datetime.timedelta(seconds=2 * SETTLED_S)
    assert settled_cut(later) > settled_cut(noon)
    assert home_summary(workspace, now=later).recordings_today == 4


def test_todays_bar_adds_the_settled_part_and_the_last_seconds(clinician, site):
    noon, patient = _noon_today(), PatientFactory(site=site)
    _finished(patient, noon - datetime.timedelta(minutes=10), "healthy")
    _finished(patient, noon - datetime.timedelta(seconds=1), "healthy")
    _finished(patient, noon - datetime.timedelta(seconds=1), "anomaly")
    assert settled_cut(noon) < noon - datetime.timedelta(seconds=1)

    summary = home_summary(Workspace(user=clinician, sites=[site]), now=noon)

    assert summary.chart[-1]["counts"] == {"healthy": 2, "anomaly": 1}


def test_just_after_midnight_today_is_read_whole_and_yesterday_stays_out(clinician, site):
    midnight = timezone.make_aware(datetime.datetime.combine(timezone.localdate(), datetime.time()))
    just_after, patient = midnight + datetime.timedelta(seconds=5), PatientFactory(site=site)
    assert settled_cut(just_after) < midnight
    _recorded(patient, midnight)
    _recorded(patient, midnight - datetime.timedelta(seconds=1))

    summary = home_summary(Workspace(user=clinician, sites=[site]), now=just_after)

    assert summary.recordings_today == 1


def test_a_failed_analysis_can_be_retried_from_home(
    signed_in, site, django_capture_on_commit_callbacks
):
    diagnostic = failed(recording__patient=PatientFactory(site=site))

    with django_capture_on_commit_callbacks() as callbacks:
        response = signed_in.post(f"/diagnostics/{diagnostic.pk}/retry/", {"next": "/"})

    assert response["Location"] == "/"
    diagnostic.refresh_from_db()
    assert diagnostic.status == DiagnosticStatus.QUEUED and diagnostic.error == ""
    assert callbacks  # the inference task is enqueued after the commit
    assert events("diagnostic.retried")[0].patient_id == diagnostic.patient_id


def test_retrying_a_result_that_did_not_fail_changes_nothing(signed_in, site):
    diagnostic = succeeded(recording__patient=PatientFactory(site=site))

    response = signed_in.post(f"/diagnostics/{diagnostic.pk}/retry/", follow=True)

    assert b"Only a failed analysis can be retried." in response.content
    diagnostic.refresh_from_db()
    assert diagnostic.status == DiagnosticStatus.SUCCEEDED
