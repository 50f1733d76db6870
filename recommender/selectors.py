"""Reads of the recommender, each scoped by ``portal.core.permissions``.

``similar_cases``: the k most similar *reviewed* diagnostics a user may see, other patients only,
recordings of the same kind only.
The index is asked for more raw neighbours than wanted (rows of the user's sites only), then the
permission queryset decides which exist for this user, so a case of another site never appears,
even when it is the nearest raw neighbour or the index's site map is out of date. When too few
survive, the search widens (``RECOMMENDER_OVERFETCH`` times k, then four times more, up to
``RECOMMENDER_MAX_FETCH``). Survivors, with cases clinicians marked similar to this one, are
re-ranked by the hybrid score; ties are broken by id, so fixed data gives a fixed ranking.

``priority_page_ids``: a page of the results waiting for review, by their stored priority;
``prioritised_review_queue`` reads it with each result's score and reasons.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
from django.conf import settings
from django.db import connections
from django.db.models import Exists, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from diagnostics.models import Diagnostic, DiagnosticStatus
from diagnostics.selectors import diagnostics_for
from portal.core import permissions
from recommender import embeddings, priority, scoring
from recommender.live import live_index
from recommender.models import Interaction, InteractionKind


@dataclass(frozen=True)
class SimilarCase:
    id: int
    review_label: str
    similarity: float  # embedding cosine
    score: float  # the hybrid score the ranking used
    metadata: float
    interactions: float

    @property
    def label_display(self) -> str:
        return scoring.label_display(self.review_label)

    def as_dict(self) -> dict:
        return {
            "id": self.id, "review_label": self.review_label, "label_display": self.label_display,
            "similarity": round(self.similarity, 4), "score": round(self.score, 4),
        }  # fmt: skip


@dataclass(frozen=True)
class SimilarCases:
    diagnostic_id: int
    k: int
    cases: list[SimilarCase] = field(default_factory=list)
    # Why there are none: "" (there are, or simply no similar reviewed case), "no_index" (none
    # built yet) or "not_embedded" (this result is not in the index's model version yet).
    unavailable: str = ""
    model_version_id: int | None = None

    @property
    def shares(self) -> list[scoring.LabelShare]:
        return scoring.label_shares([case.review_label for case in self.cases])

    def as_dict(self) -> dict:
        return {
            "diagnostic": self.diagnostic_id,
            "k": self.k,
            "available": not self.unavailable,
            "unavailable_reason": self.unavailable,
            "model_version": self.model_version_id,
            "cases": [case.as_dict() for case in self.cases],
            "label_shares": [share.as_dict() for share in self.shares],
        }


# user id -> (when read, site ids): the index's site pre-filter, re-read at most every
# RECOMMENDER_INDEX_CHECK_S. Only recall depends on it: a stale entry can hide a site's cases
# for seconds, never show one, because the permission queryset filters every result.
_sites_seen: dict = {}


def _reachable_sites(user) -> list[int]:
    now = time.monotonic()
    seen = _sites_seen.get(user.pk)
    if seen is not None and now - seen[0] < settings.RECOMMENDER_INDEX_CHECK_S:
        return seen[1]
    site_ids = list(permissions.sites_for(user).values_list("id", flat=True))
    if len(_sites_seen) > 10_000:
        _sites_seen.clear()
    _sites_seen[user.pk] = (now, site_ids)
    return site_ids


def _visible_reviewed(user, diagnostic: Diagnostic) -> QuerySet[Diagnostic]:
    """The cases that may be offered: reviewed, visible, another patient's, and a recording of
    the same kind (a cough beside coughs, a breath beside breaths: the sounds differ too much
    for a comparison across kinds to mean anything to a clinician). A join in the one query."""
    return (
        diagnostics_for(user)
        .filter(status=DiagnosticStatus.SUCCEEDED, recording__kind=diagnostic.recording.kind)
        .exclude(review_label="")
        .exclude(patient_id=diagnostic.patient_id)
    )


def co_interactions(diagnostic_id: int) -> dict[int, float]:
    """Squashed co-interaction of every case clinicians related to this one, either way round."""
    rows = (
        Interaction.objects.filter(
            Q(source_id=diagnostic_id) | Q(diagnostic_id=diagnostic_id, source__isnull=False)
        )
        .order_by()
        .values_list("user_id", "source_id", "diagnostic_id", "kind")
        .distinct()
    )
    return scoring.co_interaction(
        (target if source == diagnostic_id else source, kind) for _, source, target, kind in rows
    )


def feedback_given(*, user, source_id: int, case_ids) -> dict[int, str]:
    """``user``'s latest "Similar" / "Not similar" on each of ``case_ids`` seen beside
    ``source_id``: ``{case id: "marked_similar" | "dismissed"}`` (one query)."""
    rows = (
        Interaction.objects.filter(
            user=user, source_id=source_id, diagnostic_id__in=list(case_ids),
            kind__in=(InteractionKind.MARKED_SIMILAR, InteractionKind.DISMISSED),
        )
        .order_by("at", "id")
        .values_list("diagnostic_id", "kind")
    )  # fmt: skip
    return dict(rows)  # the latest of each case last, so it wins


def _query_terms(diagnostic: Diagnostic) -> frozenset[str]:
    patient = diagnostic.patient
    return scoring.case_terms(
        kind=diagnostic.recording.kind, sex=patient.sex,
        age=scoring.age_on(patient.birth_date, diagnostic.queued_at.date()),
        symptoms=diagnostic.symptoms,
    )  # fmt: skip


def _candidates(state, vector, diagnostic, user, k, co) -> tuple[list[dict], dict[int, float]]:
    """Visible reviewed rows among the raw neighbours, widening the search until k survive."""
    site_ids = _reachable_sites(user)
    visible = _visible_reviewed(user, diagnostic)
    extra = [other for other, value in co.items() if value > 0]
    fetch = max(k * settings.RECOMMENDER_OVERFETCH, k + 1)
    while True:
        neighbours = state.search(vector, fetch + 1, site_ids=site_ids)
        cosine = {int(i): float(s) for i, s in zip(neighbours.ids, neighbours.scores, strict=True)}
        cosine.pop(diagnostic.pk, None)
        wanted = [*cosine, *(other for other in extra if other not in cosine)]
        rows = list(
            visible.filter(pk__in=wanted).values("id", "review_label", *scoring.TERM_FIELDS)
        )
        exhausted = len(neighbours.ids) <= fetch or fetch >= settings.RECOMMENDER_MAX_FETCH
        if len(rows) >= k or exhausted:
            break
        fetch = min(fetch * 4, settings.RECOMMENDER_MAX_FETCH)
    missing = [row["id"] for row in rows if row["id"] not in cosine]
    if missing:
        for other, v in embeddings.vectors_of(
            missing, model_version_id=state.model_version_id
        ).items():
            cosine[other] = float(np.dot(vector, v))
    return [row for row in rows if row["id"] in cosine], cosine


def similar_cases(*, diagnostic: Diagnostic, user, k: int = 10) -> SimilarCases:
    """The ``k`` most similar reviewed diagnostics ``user`` may see, best first."""
    state = live_index.state()
    if state is None:
        return SimilarCases(diagnostic.pk, k, unavailable="no_index")
    vector = embeddings.vector_of(diagnostic, model_version_id=state.model_version_id)
    if vector is None:
        return SimilarCases(
            diagnostic.pk, k, unavailable="not_embedded", model_version_id=state.model_version_id
        )
    co = co_interactions(diagnostic.pk)
    rows, cosine = _candidates(state, vector, diagnostic, user, k, co)
    cases = rank(rows, cosine, co, query_terms=_query_terms(diagnostic))[:k]
    return SimilarCases(diagnostic.pk, k, cases, model_version_id=state.model_version_id)


def rank(rows: list[dict], cosine: dict, co: dict, *, query_terms) -> list[SimilarCase]:
    """Candidate rows ordered by the hybrid score, ties by id."""
    if not rows:
        return []
    cos = np.array([cosine[row["id"]] for row in rows])
    meta = scoring.metadata_similarity(query_terms, [scoring.row_terms(row) for row in rows])
    inter = np.array([co.get(row["id"], 0.0) for row in rows])
    scores = scoring.hybrid(cos, meta, inter)
    # Rounded first: float noise must not outrank the id tie-break.
    order = sorted(range(len(rows)), key=lambda i: (-round(float(scores[i]), 9), rows[i]["id"]))
    return [
        SimilarCase(
            rows[i]["id"],
            rows[i]["review_label"],
            float(cos[i]),
            float(scores[i]),
            float(meta[i]),
            float(inter[i]),
        )
        for i in order
    ]


# --- The review queue --------------------------------------------------------------------------


@dataclass(frozen=True)
class ReviewItem:
    diagnostic: Diagnostic
    score: float
    reasons: list[str]


def priority_page_ids(
    diagnostics: QuerySet[Diagnostic],
    *,
    after: int | None = None,
    before: int | None = None,
    size: int,
) -> tuple[list[int], bool]:
    """One page of the results among ``diagnostics`` (already scoped to the user) that wait for
    review, in priority order: the ids, and whether more lie beyond the page in the direction
    read (after the cursor ``after``, or before ``before``). One query.

    Scored results come first, highest priority first (``rank_key`` descending, then id);
    results not scored yet (seconds after their analysis, or while no recommender runs) come
    after every scored one, oldest first. Each half is read along its own index from the cursor
    (a range bound, not only a filter) and cut at the page size, and the second half is read only
    when the first falls short (an uncorrelated subquery the database evaluates once), so a
    page costs the same at the top of a queue of a million as of ten. A cursor is read through
    ``diagnostics``, so one outside the user's reach matches nothing; one reviewed since still
    marks its place.
    """
    rank = "review_priority__rank_key"
    waiting = diagnostics.filter(status=DiagnosticStatus.SUCCEEDED, review_label="")
    scored = waiting.filter(review_priority__isnull=False)
    unscored = waiting.filter(review_priority__isnull=True)
    if cursor := before or after:
        at = diagnostics.filter(pk=cursor)
        known = Exists(at)
        at_rank = Subquery(at.values(rank)[:1])  # null when the cursor is not scored
        at_queued = Subquery(at.filter(review_priority__isnull=True).values("queued_at")[:1])
        if before:  # every scored result precedes an unscored cursor
            low_rank = Coalesce(at_rank, Value(float("-inf")))
            scored = scored.filter(
                known, Q(**{f"{rank}__gte": low_rank}),
                Q(**{f"{rank}__gt": low_rank}) | Q(**{rank: at_rank, "id__lt": cursor}),
            )  # fmt: skip
            unscored = unscored.filter(
                Q(queued_at__lte=at_queued),
                Q(queued_at__lt=at_queued) | Q(queued_at=at_queued, id__lt=cursor),
            )
        else:  # every unscored result follows a scored cursor
            scored = scored.filter(
                Q(**{f"{rank}__lte": at_rank}),
                Q(**{f"{rank}__lt": at_rank}) | Q(**{rank: at_rank, "id__gt": cursor}),
            )
            from_queued = Coalesce(at_queued, Value(EARLIEST))
            unscored = unscored.filter(
                known, Q(queued_at__gte=from_queued),
                Q(queued_at__gt=from_queued) | Q(queued_at=at_queued, id__gt=cursor),
            )  # fmt: skip
    if before:  # read backwards from the cursor: the unscored half first
        first, second = unscored.order_by("-queued_at", "-id"), scored.order_by(rank, "-id")
    else:
        first, second = scored.order_by(f"-{rank}", "id"), unscored.order_by("queued_at", "id")
    # Read in the first half's own order (an EXISTS would drop it, and the plan with it).
    beyond_first = Subquery(first.values("id")[size : size + 1])
    second = second.alias(beyond_first=beyond_first).filter(beyond_first__isnull=True)
    fields = ("id", rank, "queued_at")
    rows = _union_all(
        first.values_list(*fields)[: size + 1], second.values_list(*fields)[: size + 1]
    )
    rows.sort(key=_queue_position)
    more = len(rows) > size
    page = rows[-size:] if before else rows[:size]
    return [row[0] for row in page], more


EARLIEST = datetime.min.replace(tzinfo=UTC)


def _union_all(*parts: QuerySet) -> list[tuple]:
    """The rows of every (ordered, sliced) queryset in one ``UNION ALL`` query. Each is wrapped
    as a subquery, which both PostgreSQL and SQLite accept with its ORDER BY and LIMIT (Django's
    ``union`` refuses them on SQLite)."""
    statements, params = [], []
    for i, part in enumerate(parts):
        sql, part_params = part.query.sql_with_params()
        statements.append(f"SELECT * FROM ({sql}) AS part{i}")  # noqa: S608 (Django's SQL, params apart)
        params.extend(part_params)
    with connections[parts[0].db].cursor() as cursor:
        cursor.execute(" UNION ALL ".join(statements), params)
        return cursor.fetchall()


def _queue_position(row: tuple) -> tuple:
    pk, rank_key, queued_at = row
    if rank_key is not None:
        return (0, -rank_key, pk)
    if isinstance(queued_at, str):  # SQLite, read without the ORM's converters
        queued_at = parse_datetime(queued_at).replace(tzinfo=UTC)
    return (1, queued_at.timestamp(), pk)


def prioritised_review_queue(*, user, site=None, limit: int = 50) -> list[ReviewItem]:
    """The first ``limit`` results waiting for review that ``user`` may see, in priority order,
    with their current scores and reasons (two queries)."""
    visible = diagnostics_for(user)
    if site is not None:
        visible = visible.filter(patient__site=site)
    ids, _ = priority_page_ids(visible, size=limit)
    rows = visible.select_related("review_priority", "patient", "recording", "model_version")
    found = rows.in_bulk(ids)
    now = timezone.now()
    return [review_item(found[pk], now=now) for pk in ids if pk in found]


def review_item(diagnostic: Diagnostic, *, now: datetime | None = None) -> ReviewItem:
    """A queue row with its current score and its reasons (no query: the priority is joined)."""
    now = now or timezone.now()
    stored = getattr(diagnostic, "review_priority", None)
    score = priority.current_score(stored, diagnostic.queued_at, now) if stored else 0.0
    return ReviewItem(
        diagnostic,
        round(score, 4),
        priority.reasons(stored, diagnostic.queued_at, now, scores=diagnostic.scores),
    )
