"""The API and the live message carry the headline a page shows (``label_shown``): the reviewed
label, else inconclusive for a recording that failed the quality gate, else the model's label,
beside the model's own ``label``."""

import pytest

from diagnostics.live import status_message
from diagnostics.models import QualityGate
from tests.factories_clinical import DiagnosticFactory, succeeded

pytestmark = pytest.mark.django_db


@pytest.fixture
def corrected(patient):
    return succeeded(recording__patient=patient, label="healthy", review_label="anomaly",
                     reviewed_at="2026-01-01T00:00:00Z")  # fmt: skip


def test_the_detail_and_the_list_show_the_reviewed_label_and_keep_the_models(api, corrected):
    detail = api.get(f"/api/v1/diagnostics/{corrected.pk}/").json()
    row = api.get("/api/v1/diagnostics/").json()["results"][0]

    for body in (detail, row):
        assert (body["label"], body["label_shown"]) == ("healthy", "anomaly")
    assert detail["label_shown_display"] == "possible respiratory anomaly"


def test_a_gated_result_is_shown_inconclusive_with_the_reason(api, patient):
    gated = succeeded(recording__patient=patient, label="anomaly", confidence=1.0,
                      quality_gate=QualityGate.CLIPPED)  # fmt: skip

    body = api.get(f"/api/v1/diagnostics/{gated.pk}/").json()

    assert (body["label"], body["label_shown"], body["quality_gate"]) == (
        "anomaly",
        "inconclusive",
        "clipped",
    )
    assert body["quality_gate_display"] == "the sound is distorted (clipped)"


def test_the_live_message_carries_the_label_shown(corrected, patient):
    assert status_message(corrected)["label_shown"] == "anomaly"
    assert status_message(DiagnosticFactory(recording__patient=patient))["label_shown"] is None


def test_the_live_message_is_plain_json(corrected):
    import json

    assert json.loads(json.dumps(status_message(corrected)))["label_shown_display"] == (
        "possible respiratory anomaly"
    )
