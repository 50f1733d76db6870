"""Input drift: are the recordings the production model hears still like those it learned from?

Three measures compare the last ``DRIFT_WINDOW_DAYS`` of analysed recordings with the model
version's reference (``ModelVersion.input_reference``, made from its training inputs by
``reference_from_clips``):

- ``duration`` and ``loudness``: the shift of the mean, in the reference's standard deviations
  (a standardised mean difference: 0.2 small, 0.5 medium, 0.8 large);
- ``embedding``: how far the mean of the model's (unit) embeddings moved, in units of the
  reference embeddings' spread around their own mean (the root mean squared distance).

The window's means come from ``DailyInputStats`` rows (sums per day, version and site, recomputed
idempotently like the agreement rows), so the measure reads a few rows, not the diagnostics. The
beat task sets ``portal_model_input_drift{measure}`` for the production model; the alert
``ModelInputDrift`` fires past 0.5 for an hour.
"""

import datetime as dt
from collections import defaultdict

import numpy as np
from django.conf import settings
from django.db import transaction
from django.db.models import Count, F, FloatField, Sum
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast, TruncDate
from django.utils import timezone

from diagnostics.agreement import day_bounds
from diagnostics.metrics import INPUT_DRIFT
from diagnostics.models import DailyInputStats, Diagnostic, DiagnosticStatus, ModelVersion
from media_assets.quality import measure_quality

MEASURES = ("duration", "loudness", "embedding")


def reference_from_clips(model, clips: list[np.ndarray], sample_rate: int) -> dict:
    """The reference of a model's training inputs: ``model`` is a ``LoadedModel`` (its
    embeddings), ``clips`` mono float32 sounds as it was trained on."""
    durations = np.array([len(clip) / sample_rate for clip in clips])
    loudness = np.array([measure_quality(clip, sample_rate).loudness_dbfs for clip in clips])
    embeddings = np.concatenate(
        [model.infer(model.fit(clips[i : i + 64]))[1] for i in range(0, len(clips), 64)]
    )
    mean = embeddings.mean(axis=0)
    spread = float(np.sqrt(((embeddings - mean) ** 2).sum(axis=1).mean()))
    return {
        "examples": len(clips),
        "duration": {"mean": float(durations.mean()), "std": float(durations.std())},
        "loudness": {"mean": float(loudness.mean()), "std": float(loudness.std())},
        "embedding": {"mean": [round(float(v), 6) for v in mean], "spread": spread},
    }


def set_reference(*, version: ModelVersion, reference: dict) -> ModelVersion:
    version.input_reference = reference
    version.save(update_fields=["input_reference"])
    return version


# --- daily rows -------------------------------------------------------------------------------------


def refresh_days(first: dt.date, last: dt.date) -> int:
    """Recompute the input rows of days ``first`` to ``last``; the number of rows written."""
    start, end = day_bounds(first, last)
    zone = timezone.get_current_timezone()
    analysed = Diagnostic.objects.filter(
        status=DiagnosticStatus.SUCCEEDED, model_version__isnull=False,
        finished_at__gte=start, finished_at__lt=end,
    ).annotate(
        day=TruncDate("finished_at", tzinfo=zone),
        loudness=Cast(KeyTextTransform("loudness_dbfs", "recording__quality"), FloatField()),
    )  # fmt: skip
    keys = ("day", "model_version_id", "patient__site_id")
    sums = analysed.values(*keys).annotate(
        n=Count("pk"), duration_sum=Sum("recording__duration_s"),
        duration_sq=Sum(_square("recording__duration_s")), loudness_count=Count("loudness"),
        loudness_sum=Sum("loudness"), loudness_sq=Sum(_square("loudness")),
    ).order_by()  # fmt: skip
    embeddings = _embedding_sums(analysed.filter(embedding__isnull=False), keys)
    rows = []
    for row in sums:
        key = tuple(row[k] for k in keys)
        count, total = embeddings.get(key, (0, None))
        rows.append(DailyInputStats(
            day=row["day"], model_version_id=row["model_version_id"],
            site_id=row["patient__site_id"], count=row["n"],
            duration_sum=row["duration_sum"] or 0.0,
            duration_sq_sum=row["duration_sq"] or 0.0,
            loudness_count=row["loudness_count"], loudness_sum=row["loudness_sum"] or 0.0,
            loudness_sq_sum=row["loudness_sq"] or 0.0,
            embedding_count=count, embedding_sum=[] if total is None else total.tolist(),
        ))  # fmt: skip
    fresh = {(r.day, r.model_version_id, r.site_id) for r in rows}
    with transaction.atomic():
        existing = DailyInputStats.objects.filter(day__gte=first, day__lte=last)
        stale = [pk for pk, *key in existing.values_list("pk", "day", "model_version_id", "site_id")
                 if tuple(key) not in fresh]  # fmt: skip
        DailyInputStats.objects.filter(pk__in=stale).delete()
        DailyInputStats.objects.bulk_create(
            rows, update_conflicts=True, unique_fields=["day", "model_version", "site"],
            update_fields=[f.name for f in DailyInputStats._meta.concrete_fields
                           if f.name not in ("id", "day", "model_version", "site")],
        )  # fmt: skip
    return len(rows)


def _square(field: str):
    return F(field) * F(field)


def _embedding_sums(analysed, keys) -> dict[tuple, tuple[int, np.ndarray]]:
    """Per key, (embeddings counted, their sum): read in chunks, summed in NumPy."""
    sums: dict[tuple, list] = defaultdict(lambda: [0, None])
    for *key, blob in analysed.values_list(*keys, "embedding").iterator(chunk_size=2000):
        vector = np.frombuffer(bytes(blob), dtype=np.float32).astype(np.float64)
        entry = sums[tuple(key)]
        entry[0] += 1
        entry[1] = vector if entry[1] is None else entry[1] + vector
    return {key: (count, total) for key, (count, total) in sums.items()}


# --- the measure ----------------------------------------------------------------------------------


def drift(version: ModelVersion, *, days: int | None = None) -> dict[str, float | None]:
    """The three measures for ``version`` over the last ``days`` (``DRIFT_WINDOW_DAYS``); None
    for a measure without a reference or without inputs in the window."""
    days = days or settings.DRIFT_WINDOW_DAYS
    reference = version.input_reference or {}
    since = timezone.localdate() - dt.timedelta(days=days - 1)
    rows = list(DailyInputStats.objects.filter(model_version=version, day__gte=since))
    found: dict[str, float | None] = dict.fromkeys(MEASURES)
    count = sum(r.count for r in rows)
    for measure, total, n in (
        ("duration", sum(r.duration_sum for r in rows), count),
        ("loudness", sum(r.loudness_sum for r in rows), sum(r.loudness_count for r in rows)),
    ):
        ref = reference.get(measure)
        if ref and n and ref.get("std"):
            found[measure] = round(abs(total / n - ref["mean"]) / ref["std"], 4)
    ref = reference.get("embedding")
    with_embedding = [r for r in rows if r.embedding_count and r.embedding_sum]
    if ref and ref.get("spread") and with_embedding:
        total = np.sum([np.asarray(r.embedding_sum) for r in with_embedding], axis=0)
        mean = total / sum(r.embedding_count for r in with_embedding)
        shift = float(np.linalg.norm(mean - np.asarray(ref["mean"])))
        found["embedding"] = round(shift / ref["spread"], 4)
    return found


def publish_drift(version: ModelVersion | None) -> dict[str, float | None]:
    """Set the gauge for the production model (a measure it cannot compute is left unset)."""
    if version is None:
        return {}
    measures = drift(version)
    for measure, value in measures.items():
        if value is not None:
            INPUT_DRIFT.labels(measure).set(value)
    return measures
