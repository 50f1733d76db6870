"""Recording a shadow model's answers: beside the diagnostics, never in them.

A shadow analyses live uploads with the same audio as the model that serves them, but what it says
goes to ``ShadowResult`` rows only: no page, API, export or live message reads that table, and the
diagnostic's own result is written by the serving model's call alone. The comparison with
production (``diagnostics.canary``) is the only reader. A row per (shadow version, diagnostic): a
redelivered batch writes nothing twice.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from django.conf import settings

from diagnostics.models import Diagnostic, DiagnosticStatus, Label, ModelVersion, ShadowResult
from diagnostics.quality_gate import gate_reason

if TYPE_CHECKING:
    from diagnostics.inference.loading import Loaded

logger = logging.getLogger("diagnostics.inference")


def record_shadow_results(version: ModelVersion, loaded: list[Loaded], predictions) -> None:
    """The shadow's answers for these clips, with the serving model's threshold and gate."""
    rows = []
    for item, prediction in zip(loaded, predictions, strict=True):
        confident = prediction.confidence >= settings.INFERENCE_CONFIDENCE_THRESHOLD
        rows.append(
            ShadowResult(
                diagnostic_id=item.diagnostic.pk, model_version=version,
                status=DiagnosticStatus.SUCCEEDED,
                label=prediction.label if confident else Label.INCONCLUSIVE,
                confidence=round(prediction.confidence, 6),
                quality_gate=gate_reason(item.diagnostic.recording),
            )
        )  # fmt: skip
    ShadowResult.objects.bulk_create(rows, ignore_conflicts=True)
    logger.info("shadow analysed", extra={"model_version": str(version), "clips": len(rows)})


def record_shadow_failures(version: ModelVersion, diagnostics: list[Diagnostic], reason: str):
    """The shadow could not analyse these (its artifact is unusable): counted as its errors."""
    ShadowResult.objects.bulk_create(
        [
            ShadowResult(
                diagnostic_id=d.pk, model_version=version, status=DiagnosticStatus.FAILED,
                error=reason,
            )
            for d in diagnostics
        ],
        ignore_conflicts=True,
    )  # fmt: skip
