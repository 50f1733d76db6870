"""Real cases for the tests that need the model's own embeddings: SYNTHETIC sounds uploaded
through the recording service, analysed by the real inference code with a tiny trained model,
and partly reviewed with the generator's ground truth."""

import io

import numpy as np

from diagnostics import inference
from diagnostics.ml import synth
from diagnostics.reviews import Decision, review_diagnostic
from diagnostics.services import submit_recording
from media_assets.models import MIN_SECONDS_BY_KIND
from tests.factories import PatientFactory


def analysed_cases(*, site, user, n: int, seed: int = 21, reviewed_share: float = 0.75):
    """``n`` analysed diagnostics of distinct patients of ``site``; most reviewed."""
    rng = np.random.default_rng(seed)
    diagnostics = []
    sounds = synth.generate_dataset(n, seed=seed, min_duration_s=MIN_SECONDS_BY_KIND)
    for i, sound in enumerate(sounds):
        submission = submit_recording(
            patient=PatientFactory(site=site), file=io.BytesIO(synth.to_wav_bytes(sound)),
            kind=sound.kind, symptoms={}, actor=user, original_name=f"synthetic-{i}.wav",
        )  # fmt: skip
        inference.run_diagnostic(diagnostic_id=submission.diagnostic.pk, task_id=f"t-{i}")
        diagnostic = submission.diagnostic
        diagnostic.refresh_from_db()
        if rng.random() < reviewed_share:
            review_diagnostic(diagnostic=diagnostic, actor=user, decision=Decision.CORRECT,
                              label=sound.label)  # fmt: skip
        diagnostics.append(diagnostic)
    return diagnostics
