"""Below ``INFERENCE_CONFIDENCE_THRESHOLD`` the model's answer is shown as "inconclusive": the same
recording, analysed by the same model, is labelled when the threshold is under its confidence and
inconclusive when the threshold is over it, with its confidence and scores kept for review."""

import pytest

from diagnostics import inference
from diagnostics.models import DiagnosticStatus, Label
from tests.diagnostics.inference_steps import submit
from tests.factories import PatientFactory

pytestmark = pytest.mark.django_db(transaction=True)


def analysed(patient, clinician, *, seed: int):
    diagnostic = submit(patient, clinician, seed=seed)
    inference.analyse(inference.claim(diagnostic_id=diagnostic.pk, task_id=f"task-{patient.pk}"))
    diagnostic.refresh_from_db()
    assert diagnostic.status == DiagnosticStatus.SUCCEEDED
    return diagnostic


def test_a_result_less_confident_than_the_threshold_is_inconclusive(
    clinician, site, production_model, settings, tmp_path, empty_broker
):
    settings.MODEL_CACHE_DIR = tmp_path / "model-cache"
    settings.INFERENCE_CONFIDENCE_THRESHOLD = 0.0
    sure = analysed(PatientFactory(site=site), clinician, seed=510)
    assert sure.label in (Label.HEALTHY, Label.ANOMALY) and sure.confidence < 1.0

    # The same bytes for another patient: the same model gives the same confidence.
    settings.INFERENCE_CONFIDENCE_THRESHOLD = (sure.confidence + 1.0) / 2
    unsure = analysed(PatientFactory(site=site), clinician, seed=510)

    assert unsure.label == Label.INCONCLUSIVE
    assert unsure.confidence == pytest.approx(sure.confidence, abs=1e-5)
    assert unsure.scores == pytest.approx(sure.scores, abs=1e-5)
    assert unsure.model_version_id == sure.model_version_id == production_model.pk
