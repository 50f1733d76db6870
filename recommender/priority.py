"""Review prioritisation: which waiting result would a clinician's review teach the model most?

Three signals, weighted by ``RECOMMENDER_PRIORITY_WEIGHTS``:

- uncertainty: ``1 - |p_anomaly - 0.5| * 2`` (1 at a coin toss, 0 when the model is sure), or the
  normalised entropy of the scores for a model without an ``anomaly`` label;
- disagreement: the share of the most similar reviewed cases *of the same site* and the same kind
  of recording whose confirmed label differs from the model's leaning (same site, so that nothing
  about another site's cases reaches a user through a score); unknown with fewer than
  ``RECOMMENDER_PRIORITY_MIN_NEIGHBOURS``;
- waiting time: the full age weight per ``RECOMMENDER_AGE_SCALE_DAYS`` waited, without a cap, so
  nothing waits for ever.

``refresh_review_priorities`` stores the first two in ``ReviewPriority`` (one batch of index
searches per thousand waiting results); the queue then orders by a stored column.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from diagnostics.models import Diagnostic, DiagnosticStatus, Label
from recommender import embeddings
from recommender.live import LiveState, live_index
from recommender.models import ReviewPriority

DAY_S = 86400.0


def p_anomaly(scores: dict) -> float | None:
    value = (scores or {}).get(Label.ANOMALY)
    return float(value) if isinstance(value, int | float) else None


def uncertainty_of(scores: dict) -> float:
    p = p_anomaly(scores)
    if p is not None:
        return float(min(1.0, max(0.0, 1.0 - abs(p - 0.5) * 2)))
    probabilities = [
        float(v) for v in (scores or {}).values() if isinstance(v, int | float) and v > 0
    ]
    if len(probabilities) < 2:
        return 0.0
    total = sum(probabilities)
    entropy = -sum(p / total * math.log(p / total) for p in probabilities)
    return float(entropy / math.log(len(probabilities)))


def leaning_of(scores: dict) -> str | None:
    """The label the model leans to, even when it showed "inconclusive"."""
    p = p_anomaly(scores)
    if p is not None:
        return Label.ANOMALY if p >= 0.5 else Label.HEALTHY
    numeric = {k: v for k, v in (scores or {}).items() if isinstance(v, int | float)}
    return max(sorted(numeric), key=numeric.get) if numeric else None


@dataclass(frozen=True)
class Priority:
    uncertainty: float
    disagreement: float | None
    neighbours: int
    neighbour_labels: dict
    base_score: float
    rank_key: float


def review_priority(*, scores: dict, neighbour_labels, queued_at: datetime) -> Priority:
    """The stored part of a waiting result's priority (see the module docstring)."""
    weights = settings.RECOMMENDER_PRIORITY_WEIGHTS
    uncertainty = uncertainty_of(scores)
    decided = [label for label in neighbour_labels if label in (Label.HEALTHY, Label.ANOMALY)]
    leaning = leaning_of(scores)
    disagreement = None
    if leaning is not None and len(decided) >= settings.RECOMMENDER_PRIORITY_MIN_NEIGHBOURS:
        disagreement = sum(label != leaning for label in decided) / len(decided)
    base = weights["uncertainty"] * uncertainty + weights["disagreement"] * (disagreement or 0.0)
    rank_key = base - weights["age"] * queued_at.timestamp() / (
        settings.RECOMMENDER_AGE_SCALE_DAYS * DAY_S
    )
    return Priority(
        uncertainty=round(uncertainty, 6),
        disagreement=None if disagreement is None else round(disagreement, 6),
        neighbours=len(decided),
        neighbour_labels=dict(Counter(neighbour_labels)),
        base_score=round(base, 6),
        rank_key=rank_key,
    )


def current_score(priority: ReviewPriority | Priority, queued_at: datetime, now=None) -> float:
    now = now or timezone.now()
    age_days = max(0.0, (now - queued_at).total_seconds() / DAY_S)
    age_weight = settings.RECOMMENDER_PRIORITY_WEIGHTS["age"]
    return priority.base_score + age_weight * age_days / settings.RECOMMENDER_AGE_SCALE_DAYS


def reasons(
    priority: ReviewPriority | Priority | None, queued_at: datetime, now=None, *, scores=None
) -> list[str]:
    """Why a waiting result is where it is in the queue, in the clinic's words; never empty.

    A result not scored yet (seconds after its analysis, or with no recommender running) has its
    uncertainty read from its own ``scores``; one with nothing to flag says it is confident and
    new, so the queue that promises a reason for each result gives one."""
    now = now or timezone.now()
    found = []
    uncertainty = priority.uncertainty if priority is not None else uncertainty_of(scores)
    if uncertainty >= settings.RECOMMENDER_UNCERTAIN_AT:
        found.append(_("uncertain"))
    if priority is not None and (priority.disagreement or 0.0) >= settings.RECOMMENDER_DISAGREES_AT:
        found.append(_("disagrees with similar cases"))
    days = int((now - queued_at).total_seconds() // DAY_S)
    if days >= 1:
        found.append(
            ngettext("waiting %(days)d day", "waiting %(days)d days", days) % {"days": days}
        )
    return found or [_("confident result, less than a day old")]


_ROW_FIELDS = ("pk", "scores", "queued_at", "patient_id", "patient__site_id", "model_version_id",
               "embedding", "recording__kind")  # fmt: skip


def refresh_review_priorities(*, diagnostic_ids=None, batch: int = 1000) -> int:
    """Recompute and store the priority of waiting results (all, or ``diagnostic_ids``)."""
    state = live_index.state()
    waiting = Diagnostic.objects.filter(status=DiagnosticStatus.SUCCEEDED, review_label="")
    if diagnostic_ids is not None:
        waiting = waiting.filter(pk__in=list(diagnostic_ids))
    stored, after = 0, 0
    while True:
        rows = list(waiting.filter(pk__gt=after).order_by("pk").values(*_ROW_FIELDS)[:batch])
        if not rows:
            break
        labels = _neighbour_labels(rows, state) if state is not None else {}
        _store(rows, labels, state)
        stored += len(rows)
        after = rows[-1]["pk"]
    # Reviewed results leave the queue; their stored priority has no further use.
    ReviewPriority.objects.exclude(diagnostic__review_label="").delete()
    return stored


def _query_vectors(rows: list[dict], version_id: int) -> dict[int, np.ndarray]:
    vectors = {
        row["pk"]: embeddings.as_vector(row["embedding"])
        for row in rows
        if row["model_version_id"] == version_id and row["embedding"]
    }
    others = [row["pk"] for row in rows if row["pk"] not in vectors]
    vectors.update(embeddings.vectors_of(others, model_version_id=version_id))
    return vectors


def _neighbour_labels(rows: list[dict], state: LiveState) -> dict[int, list[str]]:
    """Confirmed labels of each row's nearest reviewed cases of its own site, other patients,
    recordings of its own kind (the cases the similar-cases panel would show beside it)."""
    wanted = settings.RECOMMENDER_PRIORITY_NEIGHBOURS
    fetch = wanted * settings.RECOMMENDER_OVERFETCH
    vectors = _query_vectors(rows, state.model_version_id)
    found: dict[int, np.ndarray] = {}
    for row in rows:
        if row["pk"] in vectors:
            found[row["pk"]] = state.search(
                vectors[row["pk"]], fetch, site_ids=[row["patient__site_id"]]
            ).ids
    candidates = {int(i) for ids in found.values() for i in ids}
    reviewed = {
        pk: (label, patient, site, kind)
        for pk, label, patient, site, kind in Diagnostic.objects.filter(
            pk__in=candidates, status=DiagnosticStatus.SUCCEEDED
        )
        .exclude(review_label="")
        .values_list("pk", "review_label", "patient_id", "patient__site_id", "recording__kind")
    }
    labels: dict[int, list[str]] = defaultdict(list)
    for row in rows:
        own = (row["patient__site_id"], row["recording__kind"])
        for other in found.get(row["pk"], ()):
            match = reviewed.get(int(other))
            if match and match[1] != row["patient_id"] and match[2:] == own:
                labels[row["pk"]].append(match[0])
                if len(labels[row["pk"]]) == wanted:
                    break
    return labels


def _store(rows: list[dict], labels: dict[int, list[str]], state: LiveState | None) -> None:
    now = timezone.now()
    version_id = state.model_version_id if state is not None else None
    priorities = []
    for row in rows:
        p = review_priority(
            scores=row["scores"], neighbour_labels=labels.get(row["pk"], []),
            queued_at=row["queued_at"],
        )  # fmt: skip
        priorities.append(
            ReviewPriority(
                diagnostic_id=row["pk"],
                uncertainty=p.uncertainty,
                disagreement=p.disagreement,
                neighbours=p.neighbours,
                neighbour_labels=p.neighbour_labels,
                base_score=p.base_score,
                rank_key=p.rank_key,
                model_version_id=version_id,
                computed_at=now,
            )
        )
    ReviewPriority.objects.bulk_create(
        priorities,
        update_conflicts=True,
        unique_fields=["diagnostic"],
        update_fields=["uncertainty", "disagreement", "neighbours", "neighbour_labels",
                       "base_score", "rank_key", "model_version", "computed_at"],
    )  # fmt: skip
