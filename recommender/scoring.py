"""How similar two cases are, apart from their sound, and how the parts add up.

One module for the service and the offline evaluation alike, so what is measured is what serves:

- metadata similarity: weighted Jaccard over a case's terms (recording kind, sex, age band, fever,
  shortness of breath, cough duration band, known conditions);
- co-interaction: clinicians' "marked similar" (+1), "viewed from this case" (+0.3) and "not
  similar" (-1) between two cases, each user counted once per pair and kind, squashed to (-1, 1);
- the hybrid score: ``RECOMMENDER_WEIGHTS``-weighted sum of cosine, metadata and co-interaction.
"""

from __future__ import annotations

import datetime
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from django.conf import settings
from django.utils.translation import ngettext

from diagnostics.models import Label
from recommender.models import InteractionKind

# Sound and symptoms say most; sex and age band a little.
TERM_WEIGHTS = {
    "kind": 1.0,
    "sex": 0.5,
    "age": 0.5,
    "fever": 1.0,
    "breathless": 1.0,
    "cough_days": 1.0,
    "condition": 1.0,
}
AGE_BANDS = ((18, "0-17"), (40, "18-39"), (65, "40-64"), (80, "65-79"))
COUGH_DAY_BANDS = ((1, "none"), (8, "1-7"), (22, "8-21"))
INTERACTION_WEIGHTS = {
    InteractionKind.MARKED_SIMILAR: 1.0,
    InteractionKind.VIEWED: 0.3,
    InteractionKind.DISMISSED: -1.0,
}


def _band(value: int, bands, last: str) -> str:
    return next((name for limit, name in bands if value < limit), last)


def age_on(birth_date: datetime.date | None, day: datetime.date) -> int | None:
    if birth_date is None:
        return None
    return day.year - birth_date.year - ((day.month, day.day) < (birth_date.month, birth_date.day))


def case_terms(
    *, kind: str = "", sex: str = "", age: int | None = None, symptoms: dict | None = None
) -> frozenset[str]:
    """The terms metadata similarity compares; unknown values contribute no term."""
    symptoms = symptoms or {}
    terms = set()
    if kind:
        terms.add(f"kind:{kind}")
    if sex and sex != "unknown":
        terms.add(f"sex:{sex}")
    if age is not None:
        terms.add(f"age:{_band(age, AGE_BANDS, '80+')}")
    for name, key in (("fever", "fever"), ("breathless", "shortness_of_breath")):
        if key in symptoms:
            terms.add(f"{name}:{'yes' if symptoms[key] else 'no'}")
    if "cough_days" in symptoms:
        terms.add(f"cough_days:{_band(int(symptoms['cough_days']), COUGH_DAY_BANDS, '22+')}")
    terms.update(f"condition:{c}" for c in symptoms.get("known_conditions", []))
    return frozenset(terms)


def row_terms(row: dict) -> frozenset[str]:
    """Terms of a ``values()`` row with recording__kind, patient__sex, patient__birth_date,
    queued_at and symptoms."""
    queued = row["queued_at"]
    return case_terms(
        kind=row["recording__kind"], sex=row["patient__sex"],
        age=age_on(row["patient__birth_date"], queued.date() if queued else datetime.date.today()),
        symptoms=row["symptoms"],
    )  # fmt: skip


TERM_FIELDS = ("recording__kind", "patient__sex", "patient__birth_date", "queued_at", "symptoms")


def _weight(term: str) -> float:
    return TERM_WEIGHTS.get(term.split(":", 1)[0], 1.0)


@dataclass(frozen=True)
class TermMatrix:
    """Cases as rows of weighted term indicators, for Jaccard in matrix form."""

    rows: np.ndarray  # [n, vocabulary] float32, weight where the case has the term
    sizes: np.ndarray  # [n] total weight of each case's terms

    @classmethod
    def of(cls, term_sets: Sequence[frozenset[str]]) -> TermMatrix:
        vocabulary = {t: i for i, t in enumerate(sorted(set().union(*term_sets)))}
        rows = np.zeros((len(term_sets), max(1, len(vocabulary))), dtype=np.float32)
        for i, terms in enumerate(term_sets):
            for term in terms:
                rows[i, vocabulary[term]] = _weight(term)
        return cls(rows, rows.sum(axis=1))

    def similarity(self, query_rows: np.ndarray, candidate_rows: np.ndarray | None = None):
        """Weighted Jaccard of the ``query_rows`` cases against ``candidate_rows`` (all rows)."""
        candidates = np.arange(len(self.rows)) if candidate_rows is None else candidate_rows
        a, b = self.rows[query_rows], self.rows[candidates]
        # A term weighs the same in every row: indicator(a) . b is the weight of shared terms.
        overlap = (a > 0).astype(np.float32) @ b.T
        union = self.sizes[query_rows][:, None] + self.sizes[candidates][None, :] - overlap
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(union > 0, overlap / union, 0.0).astype(np.float32)


def metadata_similarity(query: frozenset[str], candidates: Sequence[frozenset[str]]) -> np.ndarray:
    if not candidates:
        return np.zeros(0, dtype=np.float32)
    matrix = TermMatrix.of([query, *candidates])
    return matrix.similarity(np.array([0]), np.arange(1, len(candidates) + 1))[0]


def squash(raw: float) -> float:
    return raw / (1.0 + abs(raw))


def co_interaction(pairs: Iterable[tuple[int, str]]) -> dict[int, float]:
    """Squashed co-interaction per other case, from (other case id, kind) pairs already
    de-duplicated per user."""
    raw: Counter = Counter()
    for other, kind in pairs:
        raw[other] += INTERACTION_WEIGHTS.get(kind, 0.0)
    return {other: squash(value) for other, value in raw.items() if value}


def hybrid(cosine, metadata, interactions, weights: dict | None = None) -> np.ndarray:
    weights = weights or settings.RECOMMENDER_WEIGHTS
    return (
        weights["embedding"] * np.asarray(cosine, dtype=np.float64)
        + weights["metadata"] * np.asarray(metadata, dtype=np.float64)
        + weights["interactions"] * np.asarray(interactions, dtype=np.float64)
    )


def label_display(value: str) -> str:
    return str(Label(value).label) if value in Label.values else value


@dataclass(frozen=True)
class LabelShare:
    label: str
    display: str
    count: int
    of: int

    @property
    def text(self) -> str:
        return ngettext(
            "%(count)d of %(of)d similar confirmed case: %(label)s",
            "%(count)d of %(of)d similar confirmed cases: %(label)s",
            self.of,
        ) % {"count": self.count, "of": self.of, "label": self.display}

    def as_dict(self) -> dict:
        return {"label": self.label, "display": self.display, "count": self.count,
                "of": self.of, "text": self.text}  # fmt: skip


def label_shares(labels: Sequence[str]) -> list[LabelShare]:
    """How many of the cases carry each label, most frequent first (then the labels' order)."""
    counts = Counter(labels)
    order = {value: i for i, value in enumerate(Label.values)}
    ranked = sorted(counts, key=lambda value: (-counts[value], order.get(value, len(order))))
    return [LabelShare(v, label_display(v), counts[v], len(labels)) for v in ranked]
