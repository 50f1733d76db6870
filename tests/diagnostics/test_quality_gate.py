"""The quality gate: a recording measured as mostly silence, clipped, or (for a cough) without a
cough makes the result inconclusive with the reason, whatever the model said; thresholds are
settings; the model's answer is kept."""

import pytest

from diagnostics.models import Label, QualityGate
from diagnostics.quality_gate import gate_reason
from media_assets.models import Recording
from tests.factories_clinical import succeeded

pytestmark = pytest.mark.django_db

GOOD = {"silence_ratio": 0.2, "clipping_ratio": 0.0, "cough_detected": True, "warnings": []}


def recording(kind="cough", **quality) -> Recording:
    return Recording(kind=kind, quality={**GOOD, **quality})


@pytest.mark.parametrize(
    ("kind", "quality", "reason"),
    [
        ("cough", {}, ""),
        ("cough", {"silence_ratio": 1.0, "cough_detected": False}, QualityGate.MOSTLY_SILENT),
        ("breath", {"clipping_ratio": 0.6}, QualityGate.CLIPPED),
        ("cough", {"cough_detected": False}, QualityGate.NO_COUGH),
        ("breath", {"cough_detected": False}, ""),  # only coughs need a cough
        ("speech", {"cough_detected": False}, ""),
    ],
)
def test_the_gate_names_the_first_reason_a_recording_cannot_carry_a_result(kind, quality, reason):
    assert gate_reason(recording(kind, **quality)) == reason


def test_thresholds_are_settings(settings):
    settings.QUALITY_GATE_MAX_CLIPPING_RATIO = 0.7
    settings.QUALITY_GATE_COUGH_REQUIRED = False

    assert gate_reason(recording(clipping_ratio=0.6, cough_detected=False)) == ""


def test_a_gated_result_shows_inconclusive_and_keeps_the_models_answer(signed_in, patient):
    diagnostic = succeeded(recording__patient=patient, label="healthy", confidence=0.99,
                           quality_gate=QualityGate.MOSTLY_SILENT)  # fmt: skip

    page = signed_in.get(f"/diagnostics/{diagnostic.pk}/").content.decode()

    assert diagnostic.label_shown == Label.INCONCLUSIVE
    assert diagnostic.label == Label.HEALTHY and diagnostic.confidence == 0.99
    assert "Re-record: the recording is mostly silence." in page
    assert "Model said likely healthy (99%)" in page


def test_a_review_outranks_the_gate(patient, clinician):
    diagnostic = succeeded(recording__patient=patient, label="healthy",
                           quality_gate=QualityGate.CLIPPED, review_label="anomaly",
                           reviewed_at="2026-01-01T00:00:00Z")  # fmt: skip

    assert diagnostic.label_shown == Label.ANOMALY


def test_no_cough_is_shown_as_a_warning_on_cough_recordings_only(signed_in, patient):
    succeeded(recording__patient=patient, recording__kind="cough",
              recording__quality={**GOOD, "cough_detected": False})  # fmt: skip

    page = signed_in.get(f"/patients/{patient.pk}/").content.decode()

    assert "No cough was heard in this recording." in page
