"""Offline evaluation: leave-one-out precision@k of label agreement, and coverage.

Every reviewed case in turn is the query; all *other patients'* reviewed cases are the
candidates; a ranking is good when its top k carry the query's confirmed label. Four rankings
side by side, all through ``recommender.scoring`` so that what is measured is what serves:
hybrid (as the service does it: the ``k * RECOMMENDER_OVERFETCH`` nearest by embedding,
re-ranked by the hybrid score), embedding only, metadata only, and random (the base rate).

- precision: mean share of a query's top k (or fewer, when fewer candidates exist) with its label;
- coverage: share of cases that appear in at least one query's top k (a ranking that always
  recommends the same few cases covers little);
- answered: share of queries that had k candidates.

Site boundaries are not applied here: this measures the ranking, not what one user may see.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from django.conf import settings

from recommender import scoring

METHODS = ("hybrid", "embedding", "metadata", "random")
_BLOCK = 256


@dataclass(frozen=True)
class EvaluationSet:
    ids: np.ndarray  # [n] case ids (diagnostic ids, or positions for synthetic cases)
    labels: np.ndarray  # [n] confirmed labels
    patients: np.ndarray  # [n]
    vectors: np.ndarray  # [n, 64] unit embeddings
    terms: list[frozenset]
    # Co-interaction per case id: {other id: squashed score}.
    interactions: dict[int, dict[int, float]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.ids)


def _interaction_block(data: EvaluationSet, queries: np.ndarray) -> np.ndarray:
    block = np.zeros((len(queries), len(data)), dtype=np.float64)
    if not data.interactions:
        return block
    position = {int(case_id): i for i, case_id in enumerate(data.ids)}
    for row, q in enumerate(queries):
        for other, value in data.interactions.get(int(data.ids[q]), {}).items():
            if other in position:
                block[row, position[other]] = value
    return block


def _scores(method, data, terms, queries, rng, weights):
    """(scores, cosine) of a block of queries against every case; cosine only for hybrid."""
    if method == "random":
        return rng.random((len(queries), len(data))), None
    if method == "embedding":
        return data.vectors[queries] @ data.vectors.T, None
    metadata = terms.similarity(queries)
    if method == "metadata":
        return metadata, None
    cosine = data.vectors[queries] @ data.vectors.T
    return scoring.hybrid(cosine, metadata, _interaction_block(data, queries), weights), cosine


def _top_k(scores: np.ndarray, allowed: np.ndarray, ids: np.ndarray, k: int) -> np.ndarray:
    """Positions of the best ``k`` allowed candidates, ties by id (as the service breaks them)."""
    candidates = np.flatnonzero(allowed)
    rounded = np.round(scores[candidates], 9)
    order = np.lexsort((ids[candidates], -rounded))[:k]
    return candidates[order]


def evaluate(
    data: EvaluationSet, *, k: int = 10, max_queries: int | None = 2000, seed: int = 0,
    weights: dict | None = None, pool: int | None = None,
) -> dict[str, dict[str, float]]:  # fmt: skip
    """Leave-one-out figures per ranking method (see the module docstring)."""
    n = len(data)
    if n < 2:
        return {method: {"precision": 0.0, "coverage": 0.0, "answered": 0.0} for method in METHODS}
    rng = np.random.default_rng(seed)
    queries = np.arange(n)
    if max_queries is not None and n > max_queries:
        queries = np.sort(rng.choice(n, size=max_queries, replace=False))
    terms = scoring.TermMatrix.of(data.terms)
    pool = pool or k * settings.RECOMMENDER_OVERFETCH
    results = {}
    for method in METHODS:
        method_rng = np.random.default_rng(seed)
        precision, answered, covered = [], 0, set()
        for start in range(0, len(queries), _BLOCK):
            block = queries[start : start + _BLOCK]
            scores, cosine = _scores(method, data, terms, block, method_rng, weights)
            for row, q in enumerate(block):
                allowed = data.patients != data.patients[q]
                if cosine is not None:  # hybrid re-ranks the nearest by embedding only
                    nearest = _top_k(cosine[row], allowed, data.ids, pool)
                    allowed = np.zeros(n, dtype=bool)
                    allowed[nearest] = True
                top = _top_k(scores[row], allowed, data.ids, k)
                if len(top):
                    precision.append(float(np.mean(data.labels[top] == data.labels[q])))
                answered += len(top) >= k
                covered.update(top.tolist())
        results[method] = {
            "precision": round(float(np.mean(precision)) if precision else 0.0, 4),
            "coverage": round(len(covered) / n, 4),
            "answered": round(answered / len(queries), 4),
        }
    return results


def format_table(results: dict, *, k: int) -> str:
    """The results as a Markdown table."""
    lines = [
        f"| ranking | precision@{k} | coverage | queries answered in full |",
        "| --- | --- | --- | --- |",
    ]
    for method in METHODS:
        if method in results:
            r = results[method]
            lines.append(
                f"| {method} | {r['precision']:.3f} | {r['coverage']:.3f} | {r['answered']:.3f} |"
            )
    return "\n".join(lines)
