"""Watching the model: agreement between model and reviewers per model version, site and week,
kept in daily rows that a refresh recomputes (idempotent, and after each review), shown in the
admin as a confusion matrix and a chart; input drift of the production model against the
reference stored with its version, published as a metric."""

import datetime as dt

import numpy as np
import pytest
from django.utils import timezone
from prometheus_client import REGISTRY

from diagnostics import agreement, drift, watch
from diagnostics.models import DailyAgreement, DailyInputStats, ModelStatus
from diagnostics.reviews import Decision, review_diagnostic
from diagnostics.tasks import refresh_agreement
from tests.factories import PatientFactory, UserFactory, verified_login
from tests.factories_clinical import ModelVersionFactory, succeeded

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, site):
    """A site administrator of the first site, signed in to the admin."""
    from portal.core.models import Role
    from portal.core.roles import provision_roles
    from tests.factories import MembershipFactory

    user = UserFactory(username="siteadmin", is_staff=True)
    user.groups.add(provision_roles()[Role.SITE_ADMIN])
    MembershipFactory(user=user, site=site, role=Role.SITE_ADMIN)
    verified_login(client, user)
    return client


def reviewed(site, version, label, review, *, when=None, **kwargs):
    when = when or timezone.now()
    return succeeded(
        recording__patient=PatientFactory(site=site), model_version=version, label=label,
        review_label=review, reviewed_at=when, finished_at=when, **kwargs,
    )  # fmt: skip


def cells():
    return sorted(
        DailyAgreement.objects.values_list(
            "model_version__version", "site__code", "model_label", "review_label", "count"
        )
    )


def test_daily_rows_count_each_answer_against_each_review_per_version_and_site(site, other_site):
    one, two = ModelVersionFactory(version="1"), ModelVersionFactory(version="2")
    for _ in range(3):
        reviewed(site, one, "healthy", "healthy")
    reviewed(site, one, "anomaly", "healthy")
    reviewed(other_site, two, "anomaly", "anomaly")
    reviewed(site, one, "healthy", "anomaly", quality_gate="no_cough")  # shown inconclusive
    succeeded(recording__patient=PatientFactory(site=site), model_version=one)  # not reviewed

    watch.refresh()
    first = cells()
    watch.refresh()  # recomputed, not added to

    assert (
        first
        == cells()
        == [
            ("1", "north", "anomaly", "healthy", 1),
            ("1", "north", "healthy", "healthy", 3),
            ("1", "north", "inconclusive", "anomaly", 1),
            ("2", "south", "anomaly", "anomaly", 1),
        ]
    )


def test_a_review_updates_the_row_of_its_day_even_weeks_later(site, clinician):
    version = ModelVersionFactory(version="1")
    long_ago = timezone.now() - dt.timedelta(days=30)
    diagnostic = succeeded(recording__patient=PatientFactory(site=site), model_version=version,
                           label="healthy", finished_at=long_ago)  # fmt: skip
    watch.refresh()
    assert cells() == []

    review_diagnostic(diagnostic=diagnostic, actor=clinician, decision=Decision.CORRECT,
                      label="anomaly")  # fmt: skip
    refresh_agreement(diagnostic.pk)  # the task the review sends once it commits
    assert cells() == [("1", "north", "healthy", "anomaly", 1)]
    row = DailyAgreement.objects.get()
    assert row.day == timezone.localdate(long_ago)

    review_diagnostic(diagnostic=diagnostic, actor=clinician, decision=Decision.CORRECT,
                      label="healthy")  # fmt: skip
    DailyAgreement.objects.all().delete()  # as if the review's message were lost:
    result = watch.refresh()  # the beat task finds the recently reviewed day itself
    assert result["reviewed_days"] == [timezone.localdate(long_ago).isoformat()]
    assert cells() == [("1", "north", "healthy", "healthy", 1)]


def test_weekly_agreement_and_the_confusion_matrix_read_only_the_daily_rows(site):
    version = ModelVersionFactory(name="cough-cnn", version="1")
    now = timezone.now()
    for weeks_ago, agreeing, disagreeing in ((2, 3, 1), (0, 1, 1)):
        when = now - dt.timedelta(weeks=weeks_ago)
        for _ in range(agreeing):
            reviewed(site, version, "anomaly", "anomaly", when=when)
        for _ in range(disagreeing):
            reviewed(site, version, "anomaly", "healthy", when=when)
    reviewed(site, version, "healthy", "inconclusive")  # not a definite label: not counted
    agreement.refresh_days(timezone.localdate(now - dt.timedelta(weeks=3)), timezone.localdate())

    rows = DailyAgreement.objects.all()
    series = agreement.weekly_agreement(rows)
    matrix = agreement.confusion_matrix(rows)

    assert [(definite, agreed) for _, definite, agreed in series["cough-cnn 1"]] == [(4, 3), (2, 1)]
    assert (matrix["definite"], matrix["agreed"], matrix["reviewed"]) == (6, 4, 7)
    assert matrix["cells"][("anomaly", "healthy")] == 2


def test_the_admin_shows_the_confusion_matrix_and_chart_of_the_sites_one_may_see(
    site, other_site, admin_client
):
    version = ModelVersionFactory(name="cough-cnn", version="1")
    for _ in range(2):
        reviewed(site, version, "anomaly", "anomaly")
    reviewed(site, version, "healthy", "anomaly")
    reviewed(other_site, version, "healthy", "healthy")  # another site's: not the site admin's
    watch.refresh()

    page = admin_client.get("/admin/diagnostics/dailyagreement/").content.decode()

    assert "data-agreement-chart" in page and "<polyline" in page
    assert 'data-cell="anomaly:anomaly">2<' in page
    assert 'data-cell="healthy:anomaly">1<' in page
    assert 'data-cell="healthy:healthy">0<' in page
    assert "agreed with 2 of 3 reviews" in page
    verified_login(admin_client, UserFactory(username="root", is_staff=True, is_superuser=True))
    everything = admin_client.get("/admin/diagnostics/dailyagreement/?weeks=4").content.decode()
    assert 'data-cell="healthy:healthy">1<' in everything


def test_input_drift_is_measured_against_the_versions_reference_and_published(site):
    version = ModelVersionFactory(status=ModelStatus.PRODUCTION)
    unit = np.zeros(64, dtype=np.float32)
    unit[0] = 1.0
    version.input_reference = {
        "examples": 100,
        "duration": {"mean": 3.0, "std": 1.0},
        "loudness": {"mean": -20.0, "std": 4.0},
        "embedding": {"mean": unit.tolist(), "spread": 0.5},
    }
    version.save()
    for loudness in (-20.0, -21.0, -19.0):  # like the training inputs
        succeeded(recording__patient=PatientFactory(site=site), model_version=version,
                  recording__duration_s=3.0, recording__quality={"loudness_dbfs": loudness},
                  embedding=unit.tobytes())  # fmt: skip

    watch.refresh()
    assert drift.drift(version) == {"duration": 0.0, "loudness": 0.0, "embedding": 0.0}

    moved = np.zeros(64, dtype=np.float32)
    moved[1] = 1.0
    for _ in range(3):  # much quieter, longer, and heard differently
        succeeded(recording__patient=PatientFactory(site=site), model_version=version,
                  recording__duration_s=5.0, recording__quality={"loudness_dbfs": -36.0},
                  embedding=moved.tobytes())  # fmt: skip
    result = watch.refresh()

    assert DailyInputStats.objects.get().count == 6
    assert result["drift"] == {"duration": 1.0, "loudness": 2.0, "embedding": 1.4142}
    assert REGISTRY.get_sample_value("portal_model_input_drift", {"measure": "loudness"}) == 2.0


def test_a_versions_reference_is_recorded_from_sounds_like_its_training_inputs(
    production_model, settings, tmp_path
):
    from django.core.management import call_command

    settings.MODEL_CACHE_DIR = tmp_path / "model-cache"
    call_command("record_input_reference", production_model.name, production_model.version,
                 "--synthetic", "12")  # fmt: skip

    production_model.refresh_from_db()
    reference = production_model.input_reference
    assert reference["examples"] == 12
    assert reference["duration"]["mean"] > 0 and reference["loudness"]["std"] > 0
    assert len(reference["embedding"]["mean"]) == 64 and reference["embedding"]["spread"] > 0
    assert drift.drift(production_model) == dict.fromkeys(drift.MEASURES)  # no inputs yet
