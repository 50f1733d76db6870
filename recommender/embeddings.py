"""Case embeddings per model version: taken from inference, or re-computed after a promotion.

The inference task writes the analysing model's embedding on the diagnostic itself. The index
reads ``CaseEmbedding`` rows of one version only, so:

- ``store_inference_embeddings`` copies the production model's embeddings into ``CaseEmbedding``
  rows (cheap: no model runs);
- ``reembed`` runs the production model on the audio of diagnostics that some other version
  (an archived model, a canary) analysed, in small batches: reviewed diagnostics first (they are
  what similar-case searches return), then the others (their review priority needs a vector).
"""

import logging
from dataclasses import dataclass

import numpy as np
import psycopg
from django.conf import settings
from django.db import connection
from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone

from diagnostics.models import Diagnostic, DiagnosticStatus, ModelVersion
from media_assets import audio
from media_assets.storage import analysis_audio
from portal.core.storage import STORAGE_ERRORS
from recommender.index import DIMENSION
from recommender.models import CaseEmbedding

logger = logging.getLogger(__name__)

PHASES = ("reviewed", "unreviewed")


def as_vector(data) -> np.ndarray:
    return np.frombuffer(bytes(data), dtype=np.float32)


def vector_of(diagnostic: Diagnostic, *, model_version_id: int) -> np.ndarray | None:
    """The diagnostic's embedding by ``model_version_id``, if it has one yet."""
    if diagnostic.model_version_id == model_version_id and diagnostic.embedding:
        return as_vector(diagnostic.embedding)
    data = (
        CaseEmbedding.objects.filter(diagnostic=diagnostic, model_version_id=model_version_id)
        .values_list("vector", flat=True)
        .first()
    )
    return None if data is None else as_vector(data)


def vectors_of(ids, *, model_version_id: int) -> dict[int, np.ndarray]:
    """Embeddings by ``model_version_id`` of the diagnostics ``ids`` that have one (two queries
    at most: stored embeddings, then the inference's own for those not stored yet)."""
    ids = list(ids)
    rows = CaseEmbedding.objects.filter(diagnostic_id__in=ids, model_version_id=model_version_id)
    found = {d: as_vector(v) for d, v in rows.values_list("diagnostic_id", "vector")}
    rest = [pk for pk in ids if pk not in found]
    if rest:
        inferred = Diagnostic.objects.filter(
            pk__in=rest, model_version_id=model_version_id, embedding__isnull=False
        ).values_list("pk", "embedding")
        found.update((pk, as_vector(data)) for pk, data in inferred)
    return found


def _without_embedding(queryset: QuerySet, version: ModelVersion) -> QuerySet:
    embedded = CaseEmbedding.objects.filter(diagnostic=OuterRef("pk"), model_version=version)
    return queryset.filter(status=DiagnosticStatus.SUCCEEDED).filter(~Exists(embedded))


def store_inference_embeddings(
    *, version: ModelVersion, diagnostic_ids=None, since=None, batch: int = 5000
) -> int:
    """Copy embeddings ``version`` wrote at inference into ``CaseEmbedding``; returns how many.

    ``since`` limits the search to diagnostics queued after it (the periodic job's window, which
    the status/queued_at index serves); ``diagnostic_ids`` to those diagnostics.
    """
    candidates = Diagnostic.objects.filter(model_version=version, embedding__isnull=False)
    if diagnostic_ids is not None:
        candidates = candidates.filter(pk__in=list(diagnostic_ids))
    if since is not None:
        candidates = candidates.filter(queued_at__gte=since)
    stored = 0
    after = 0
    while True:
        rows = list(
            _without_embedding(candidates, version)
            .filter(pk__gt=after)
            .order_by("pk")
            .values_list("pk", "embedding")[:batch]
        )
        if not rows:
            return stored
        embeddings = [
            CaseEmbedding(diagnostic_id=pk, model_version=version, vector=bytes(data))
            for pk, data in rows
            if len(data) == 4 * DIMENSION
        ]
        # ignore_conflicts: a concurrent run may have stored some of them first.
        CaseEmbedding.objects.bulk_create(embeddings, ignore_conflicts=True)
        stored += len(embeddings)
        after = rows[-1][0]


def _phase_queryset(phase: str, version: ModelVersion) -> QuerySet:
    pending = _without_embedding(Diagnostic.objects.all(), version)
    if phase == "reviewed":
        return pending.exclude(review_label="")
    return pending.filter(review_label="")


@dataclass(frozen=True)
class ReembedProgress:
    phase: str | None  # None: nothing left to re-embed
    after_id: int
    embedded: int
    skipped: int


def reembed(*, version: ModelVersion, model, phase: str = PHASES[0], after_id: int = 0,
            limit: int | None = None) -> ReembedProgress:  # fmt: skip
    """Embed up to ``limit`` more diagnostics with ``model`` (the loaded ``version``).

    Walks the phases in order by id from ``after_id``; the returned progress says where the next
    batch starts. Audio that cannot be read is skipped (and logged), not retried in this pass.
    """
    limit = limit or settings.RECOMMENDER_REEMBED_BATCH
    while phase is not None:
        batch = list(
            _phase_queryset(phase, version)
            .filter(pk__gt=after_id)
            .select_related("recording")
            .order_by("pk")[:limit]
        )
        if batch:
            embedded, skipped = embed_diagnostics(batch, version, model)
            return ReembedProgress(phase, batch[-1].pk, embedded, skipped)
        following = PHASES.index(phase) + 1
        phase, after_id = (PHASES[following] if following < len(PHASES) else None), 0
    return ReembedProgress(None, 0, 0, 0)


def embed_diagnostics(batch: list[Diagnostic], version: ModelVersion, model) -> tuple[int, int]:
    loaded = [(d, samples) for d in batch if (samples := _samples_of(d)) is not None]
    if not loaded:
        return 0, len(batch)
    predictions = model.predict([samples for _, samples in loaded])
    now = timezone.now()
    CaseEmbedding.objects.bulk_create(
        [
            CaseEmbedding(
                diagnostic=d,
                model_version=version,
                created_at=now,
                vector=p.embedding.astype(np.float32).tobytes(),
            )
            for (d, _), p in zip(loaded, predictions, strict=True)
        ],
        ignore_conflicts=True,
    )
    return len(loaded), len(batch) - len(loaded)


def _samples_of(diagnostic: Diagnostic) -> np.ndarray | None:
    try:
        return analysis_audio(diagnostic.recording.storage_key).samples
    except (audio.AudioRejected, *STORAGE_ERRORS) as exc:
        logger.warning(
            "recording not re-embedded",
            extra={"diagnostic": diagnostic.pk, "error": type(exc).__name__},
        )
        return None


def all_vectors(version_id: int, *, after: int = 0, limit: int | None = None):
    """(vectors [n, 64], diagnostic ids, site ids, last embedding id) of ``version_id``'s
    embeddings with an id after ``after``, in id order."""
    if limit is None and connection.vendor == "postgresql":
        return _all_vectors_postgres(version_id, after)
    rows = (
        CaseEmbedding.objects.filter(model_version_id=version_id, pk__gt=after)
        .order_by("pk")
        .values_list("pk", "diagnostic_id", "diagnostic__patient__site_id", "vector")
    )
    if limit is not None:
        rows = rows[:limit]
    embedding_ids, ids, sites, chunks = [], [], [], []
    for embedding_id, diagnostic_id, site_id, vector in rows.iterator(chunk_size=20_000):
        if len(vector) != VECTOR_BYTES:
            continue
        embedding_ids.append(embedding_id)
        ids.append(diagnostic_id)
        sites.append(site_id)
        chunks.append(bytes(vector))
    vectors = np.frombuffer(b"".join(chunks), dtype=np.float32).reshape(-1, DIMENSION)
    last = embedding_ids[-1] if embedding_ids else after
    return vectors, np.asarray(ids, dtype=np.int64), np.asarray(sites, dtype=np.int64), last


VECTOR_BYTES = 4 * DIMENSION
READ_CHUNK = 200_000


def _all_vectors_postgres(version_id: int, after: int):
    """The rebuild's read on PostgreSQL, in a few queries rather than a million Python rows.

    Each query aggregates a chunk of embeddings into three byte strings (ids, diagnostic ids,
    vectors) that NumPy reads as arrays; one more maps every diagnostic to its site. Joining
    the two in PostgreSQL instead hashes the wide embedding rows to disk and takes several times
    as long. Vectors of another length are skipped, as the row-by-row read skips them.
    """
    embedding, diagnostic = CaseEmbedding._meta.db_table, Diagnostic._meta.db_table
    patient = Diagnostic._meta.get_field("patient").related_model._meta.db_table
    # Table names come from the models, values are parameters.
    chunk_sql = (
        "SELECT max(id), string_agg(int8send(id), ''), string_agg(int8send(diagnostic_id), ''),"  # noqa: S608
        " string_agg(vector, '') FROM (SELECT id, diagnostic_id, vector"
        f" FROM {embedding} WHERE model_version_id = %s AND id > %s"
        " AND octet_length(vector) = %s ORDER BY id LIMIT %s) chunk"
    )
    ids, diagnostics, vectors = [], [], []
    last = after
    connection.ensure_connection()
    # A server-side-binding cursor: Django's client-side ones receive bytea as hex text.
    with psycopg.Cursor(connection.connection) as cursor:
        while True:
            cursor.execute(chunk_sql, [version_id, last, VECTOR_BYTES, READ_CHUNK], binary=True)
            top, chunk_ids, chunk_diagnostics, chunk_vectors = cursor.fetchone()
            if top is None:
                break
            ids.append(np.frombuffer(chunk_ids, dtype=">i8"))
            diagnostics.append(np.frombuffer(chunk_diagnostics, dtype=">i8"))
            vectors.append(np.frombuffer(chunk_vectors, dtype=np.float32))
            last = top
        cursor.execute(
            "SELECT string_agg(int8send(d.id), ''), string_agg(int8send(p.site_id), '')"  # noqa: S608
            f" FROM {diagnostic} d JOIN {patient} p ON p.id = d.patient_id",
            binary=True,
        )
        site_ids, site_values = cursor.fetchone()
    if not ids:
        return (
            np.zeros((0, DIMENSION), np.float32),
            np.zeros(0, np.int64),
            np.zeros(0, np.int64),
            after,
        )
    id_array = np.concatenate(ids)
    order = np.argsort(id_array, kind="stable")
    diagnostic_ids = np.concatenate(diagnostics)[order].astype(np.int64)
    vector_array = np.concatenate(vectors).reshape(-1, DIMENSION)[order]
    known = np.frombuffer(site_ids, dtype=">i8").astype(np.int64)
    known_sites = np.frombuffer(site_values, dtype=">i8").astype(np.int64)
    by_id = np.argsort(known)
    # Every embedding's diagnostic exists (a foreign key), so each lookup finds it.
    positions = by_id[np.searchsorted(known, diagnostic_ids, sorter=by_id)]
    return vector_array, diagnostic_ids, known_sites[positions], int(last)
