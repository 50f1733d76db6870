"""The quality gate: a recording whose sound cannot carry a result (mostly silence, clipped, or a
cough recording with no cough in it) gets "inconclusive: re-record" with the reason, however
confident the model was. The model's label, confidence and scores are kept as it answered; the
gate's reason is stored beside them and ``Diagnostic.label_shown`` puts it in the headline.

Thresholds are settings (``QUALITY_GATE_MAX_SILENCE_RATIO``, ``QUALITY_GATE_MAX_CLIPPING_RATIO``,
``QUALITY_GATE_COUGH_REQUIRED``), applied to what ``media_assets.quality`` measured at upload.
"""

from django.conf import settings

from diagnostics.models import QualityGate
from media_assets.models import Recording, RecordingKind


def gate_reason(recording: Recording) -> str:
    """The ``QualityGate`` the recording fails first, or "" when its sound can carry a result."""
    quality = recording.quality or {}
    if quality.get("silence_ratio", 0.0) > settings.QUALITY_GATE_MAX_SILENCE_RATIO:
        return QualityGate.MOSTLY_SILENT
    if quality.get("clipping_ratio", 0.0) > settings.QUALITY_GATE_MAX_CLIPPING_RATIO:
        return QualityGate.CLIPPED
    if (
        settings.QUALITY_GATE_COUGH_REQUIRED
        and recording.kind == RecordingKind.COUGH
        and quality.get("cough_detected") is False
    ):
        return QualityGate.NO_COUGH
    return ""
