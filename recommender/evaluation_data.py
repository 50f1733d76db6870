"""The cases an evaluation runs on: reviewed diagnostics, or a throwaway SYNTHETIC set.

``reviewed_cases`` reads the database (reviewed diagnostics with an embedding of the model
version, their metadata and clinicians' interactions). ``synthetic_cases`` writes nothing: it
trains the synthetic baseline, generates *other* synthetic sounds (a different seed, so no case
was a training example), embeds them with that model, gives each an invented patient with
symptoms drawn from its label, and takes the generator's ground truth as the review.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from diagnostics.models import Diagnostic, DiagnosticStatus, Label
from recommender import embeddings, scoring
from recommender.evaluation import EvaluationSet
from recommender.models import Interaction


def reviewed_cases(version_id: int) -> EvaluationSet:
    rows = list(
        Diagnostic.objects.filter(status=DiagnosticStatus.SUCCEEDED)
        .exclude(review_label="")
        .order_by("pk")
        .values("id", "review_label", "patient_id", *scoring.TERM_FIELDS)
    )
    vectors = embeddings.vectors_of([r["id"] for r in rows], model_version_id=version_id)
    rows = [row for row in rows if row["id"] in vectors]
    ids = np.array([r["id"] for r in rows], dtype=np.int64)
    return EvaluationSet(
        ids=ids,
        labels=np.array([r["review_label"] for r in rows]),
        patients=np.array([r["patient_id"] for r in rows], dtype=np.int64),
        vectors=np.stack([vectors[r["id"]] for r in rows]) if rows else np.zeros((0, 64)),
        terms=[scoring.row_terms(r) for r in rows],
        interactions=_interactions(set(ids.tolist())),
    )


def _interactions(ids: set[int]) -> dict[int, dict[int, float]]:
    pairs = defaultdict(list)
    rows = (
        Interaction.objects.filter(source__isnull=False)
        .order_by()
        .values_list("user_id", "source_id", "diagnostic_id", "kind")
        .distinct()
    )
    for _, source, target, kind in rows.iterator():
        if source in ids and target in ids:
            pairs[source].append((target, kind))
            pairs[target].append((source, kind))
    return {case: scoring.co_interaction(found) for case, found in pairs.items()}


def _symptoms(rng: np.random.Generator, unwell: bool) -> dict:
    # Deliberately weak signals: healthy people who record a cough often have one.
    conditions = [
        c for c in ("asthma", "copd", "smoker") if rng.random() < (0.2 if unwell else 0.1)
    ]
    return {
        "fever": bool(rng.random() < (0.35 if unwell else 0.15)),
        "shortness_of_breath": bool(rng.random() < (0.45 if unwell else 0.15)),
        "cough_days": int(min(365, rng.geometric(1 / (10 if unwell else 5)) - 1)),
        "known_conditions": conditions,
    }


def synthetic_cases(
    n: int, *, seed: int = 7, train_examples: int = 1200, epochs: int = 15, progress=None
) -> tuple[EvaluationSet, dict]:
    """``n`` SYNTHETIC reviewed cases embedded by a freshly trained baseline; and its metrics."""
    from diagnostics.ml import synth
    from diagnostics.ml.model import LoadedModel
    from diagnostics.ml.train import train_synthetic_baseline

    result = train_synthetic_baseline(
        n_examples=train_examples, epochs=epochs, seed=seed, progress=progress
    )
    model = LoadedModel(result.model, result.to_metadata(name="synthetic-eval", version=str(seed)))
    sounds = synth.generate_dataset(n, seed=seed + 10_000)
    vectors = np.concatenate(
        [
            model.infer(np.stack([_fit(model, s.samples) for s in sounds[i : i + 64]]))[1]
            for i in range(0, n, 64)
        ]
    )
    rng = np.random.default_rng(seed)
    terms = []
    for sound in sounds:
        unwell = sound.label == Label.ANOMALY
        age = int(np.clip(rng.normal(58 if unwell else 45, 18), 1, 99))
        terms.append(
            scoring.case_terms(
                kind=sound.kind,
                sex=str(rng.choice(["female", "male"])),
                age=age,
                symptoms=_symptoms(rng, unwell),
            )
        )
    data = EvaluationSet(
        ids=np.arange(n, dtype=np.int64),
        labels=np.array([s.label for s in sounds]),
        patients=np.arange(n, dtype=np.int64),
        vectors=vectors.astype(np.float32),
        terms=terms,
    )
    return data, result.metrics


def _fit(model, samples: np.ndarray) -> np.ndarray:
    from diagnostics.ml.features import fit_clip

    return fit_clip(samples, model.clip_samples)
