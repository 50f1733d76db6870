"""Similar-case benchmark: 1,000,000 case embeddings in PostgreSQL, the service against brute force.

Usage (PostgreSQL and Redis running; the database is created if needed and emptied first):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/portal_bench_recommender \\
    REDIS_URL=redis://127.0.0.1:6379/6 .venv/bin/python bench/recommender.py [--cases 1000000]

It COPYs sites, patients, recordings, diagnostics (60% reviewed) and their 64-d embeddings
(clustered random unit vectors) into PostgreSQL, runs the full index rebuild as the job does
(read every embedding, build, persist to storage), then times ``similar_cases`` through the
service for a clinician of 2 of 10 sites (permission filter, metadata and interactions included),
the raw index search, and a brute-force NumPy search over the same vectors, and the recall of
the approximate index against the exact answer. Targets (2 cores): p95 < 20 ms, rebuild < 60 s.
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.harness import machine, percentile, require_services, summary_ms
from diagnostics.selectors import diagnostics_for

SITES = 10
USER_SITES = 2
CASES_PER_PATIENT = 5
REVIEWED_SHARE = 0.6
CLUSTERS = 2000
FETCH = 50


def setup_django(media_root: str) -> None:
    os.environ.update({"MEDIA_ROOT": media_root, "LOG_LEVEL": "WARNING"})
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    import django

    django.setup()


def clustered_unit_vectors(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors around CLUSTERS centres (non-negative, like the model's ReLU embeddings),
    and each one's cluster."""
    rng = np.random.default_rng(seed)
    centres = np.abs(rng.standard_normal((CLUSTERS, 64), dtype=np.float32))
    cluster = rng.integers(0, CLUSTERS, n)
    vectors = np.empty((n, 64), dtype=np.float32)
    for start in range(0, n, 200_000):
        part = slice(start, min(n, start + 200_000))
        noise = 0.35 * rng.standard_normal((part.stop - part.start, 64), dtype=np.float32)
        vectors[part] = np.abs(centres[cluster[part]] + noise)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors, cluster


def _copy(cursor, model, fields: list[str], rows) -> None:
    """COPY rows into ``model``'s table, after checking every NOT NULL column is given."""
    table = model._meta.db_table
    columns = [model._meta.get_field(f).column for f in fields]
    cursor.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = %s"
        " AND is_nullable = 'NO' AND column_default IS NULL",
        [table],
    )
    missing = {name for (name,) in cursor.fetchall()} - set(columns)
    if missing:
        sys.exit(f"{table}: the benchmark gives no value for NOT NULL {sorted(missing)}")
    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def fill_database(n: int, vectors: np.ndarray, cluster: np.ndarray):
    """Empty the tables and COPY n cases in; returns (clinician, production model version)."""
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone
    from psycopg.types.json import Jsonb

    from diagnostics.models import Diagnostic, ModelStatus, ModelVersion
    from media_assets.models import Recording
    from portal.core.models import Membership, Patient, Site, search_key
    from recommender.models import CaseEmbedding

    call_command("migrate", verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE recommender_caseembedding, recommender_interaction, recommender_indexbuild,"
            " recommender_reviewpriority, diagnostics_diagnostic, diagnostics_modelversion,"
            " media_assets_recording, portal_auditevent, portal_patient, portal_membership,"
            " portal_site RESTART IDENTITY CASCADE"
        )
    version = ModelVersion.objects.create(
        name="bench-cnn", version="1", artifact="models/bench.zip", sha256="0" * 64,
        labels=["healthy", "anomaly"], status=ModelStatus.PRODUCTION, promoted_at=timezone.now(),
    )  # fmt: skip
    now = timezone.now()
    rng = np.random.default_rng(1)
    patients = n // CASES_PER_PATIENT
    patient_site = rng.integers(1, SITES + 1, patients)
    # A cluster leans to one label, as similar sounds share a diagnosis.
    anomaly_rate = rng.beta(0.6, 0.6, CLUSTERS)
    anomalous = rng.random(n) < anomaly_rate[cluster]
    reviewed = rng.random(n) < REVIEWED_SHARE
    case_patient = rng.integers(1, patients + 1, n)
    fever = rng.random(n) < np.where(anomalous, 0.35, 0.15)
    with connection.cursor() as cursor:
        _copy(cursor, Site, ["id", "code", "name", "created_at"],
              ((s, f"bench{s}", f"Bench clinic {s}", now) for s in range(1, SITES + 1)))  # fmt: skip
        _copy(
            cursor, Patient,
            ["id", "site", "external_id", "given_name", "family_name", "birth_date", "sex",
             "research_consent", "created_at", "updated_at", "search_name"],
            ((p, int(patient_site[p - 1]), f"B{p:08d}", "Bench", f"Patient{p}",
              f"{1930 + p % 80}-01-01", ("female", "male")[p % 2], False, now, now,
              search_key(f"Patient{p} Bench")) for p in range(1, patients + 1)),
        )  # fmt: skip
        _copy(
            cursor, Recording,
            ["id", "patient", "kind", "status", "storage_key", "original_name", "content_type",
             "size_bytes", "sha256", "quality", "created_at", "stored_at", "spectrogram_key"],
            ((i + 1, int(case_patient[i]), ("cough", "breath")[i % 2], "stored",
              f"recordings/bench/{i + 1}.wav", "", "audio/wav", 1, f"{i + 1:064x}", Jsonb({}),
              now, now, "") for i in range(n)),
        )  # fmt: skip
        _copy(
            cursor, Diagnostic,
            ["id", "recording", "patient", "status", "label", "confidence", "scores",
             "model_version", "symptoms", "timings", "embedding", "task_id", "queued_at",
             "finished_at", "attempts", "error", "review_label", "review_note", "reviewed_at",
             "quality_gate", "urgent"],
            ((i + 1, i + 1, int(case_patient[i]), "succeeded",
              "anomaly" if anomalous[i] else "healthy", 0.8,
              Jsonb({"anomaly": 0.8 if anomalous[i] else 0.2}), version.pk,
              Jsonb({"fever": bool(fever[i]), "cough_days": int(i % 20)}), Jsonb({}),
              vectors[i].tobytes(), "", now, now, 1, "",
              ("anomaly" if anomalous[i] else "healthy") if reviewed[i] else "", "",
              now if reviewed[i] else None, "", False) for i in range(n)),
        )  # fmt: skip
        _copy(cursor, CaseEmbedding, ["id", "diagnostic", "model_version", "vector", "created_at"],
              ((i + 1, i + 1, version.pk, vectors[i].tobytes(), now) for i in range(n)))  # fmt: skip
        for table in ("portal_site", "portal_patient", "media_assets_recording",
                      "diagnostics_diagnostic", "recommender_caseembedding"):  # fmt: skip
            # Fixed table names from this file, not input.
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"  # noqa: S608
            )
            cursor.execute(f"ANALYZE {table}")
    user, _ = get_user_model().objects.get_or_create(username="bench-recommender")
    for site in Site.objects.order_by("id")[:USER_SITES]:
        Membership.objects.create(user=user, site=site, role="clinician")
    return user, version


def timed(fn, runs, cpu: list | None = None) -> list[float]:
    """Wall-clock seconds per call; this process's CPU seconds per call into ``cpu``."""
    seconds = []
    for item in runs:
        started, started_cpu = time.perf_counter(), time.process_time()
        fn(item)
        seconds.append(time.perf_counter() - started)
        if cpu is not None:
            cpu.append(time.process_time() - started_cpu)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--skip-fill", action="store_true", help="reuse the data of a last run")
    args = parser.parse_args()
    require_services()
    media = tempfile.TemporaryDirectory(prefix="bench-recommender-")  # the index files
    setup_django(media.name)
    try:
        run(args)
    finally:
        media.cleanup()


def run(args) -> None:
    from django.conf import settings

    from portal.core import permissions
    from recommender import indexing
    from recommender.live import live_index
    from recommender.selectors import similar_cases

    print(f"machine: {machine()}, load average {os.getloadavg()[0]:.1f}")
    print(f"cases: {args.cases:,}; sites: {SITES} (the clinician reaches {USER_SITES}); "
          f"reviewed: {REVIEWED_SHARE:.0%}; index: {settings.RECOMMENDER_ANN} above "
          f"{settings.RECOMMENDER_EXACT_MAX:,} cases")  # fmt: skip
    started = time.perf_counter()
    vectors, cluster = clustered_unit_vectors(args.cases, seed=0)
    if args.skip_fill:
        from django.contrib.auth import get_user_model

        user = get_user_model().objects.get(username="bench-recommender")
    else:
        user, _ = fill_database(args.cases, vectors, cluster)
    done = "vectors regenerated, rows kept" if args.skip_fill else "generated and COPYed"
    print(f"data: {done} in {time.perf_counter() - started:.1f} s")

    started = time.perf_counter()
    build = indexing.rebuild_index(reason="bench")
    rebuild_s = time.perf_counter() - started
    from django.core.files.storage import default_storage

    meta = json.loads(default_storage.open(build.meta_key).read())
    print(f"full rebuild ({build.kind}, {build.count:,} cases): {rebuild_s:.1f} s "
          f"(read from PostgreSQL {meta['timings_s']['read']:.1f} s, build "
          f"{meta['timings_s']['build']:.1f} s, persist and the rest "
          f"{rebuild_s - meta['timings_s']['read'] - meta['timings_s']['build']:.1f} s)")  # fmt: skip

    rng = np.random.default_rng(2)
    visible = diagnostics_for(user)
    sample = sorted(rng.choice(args.cases, size=args.queries * 3, replace=False) + 1)
    query_ids = list(visible.filter(pk__in=sample).values_list("pk", flat=True)[: args.queries])
    queries = list(
        visible.filter(pk__in=query_ids).select_related("patient", "recording").order_by("pk")
    )
    site_ids = list(permissions.sites_for(user).values_list("id", flat=True))
    state = live_index.state()
    # One untimed pass: the rebuild has just read whole tables through PostgreSQL's buffers,
    # and the site selector's bitmap is made on first use.
    for diagnostic in queries:
        similar_cases(diagnostic=diagnostic, user=user, k=10)

    service_cpu: list[float] = []
    service = timed(lambda d: similar_cases(diagnostic=d, user=user, k=10), queries, service_cpu)

    def with_lookup(pk):
        diagnostic = visible.select_related("patient", "recording").get(pk=pk)
        similar_cases(diagnostic=diagnostic, user=user, k=10)

    api_like = timed(with_lookup, query_ids)
    query_vectors = vectors[np.array([d.pk for d in queries]) - 1]
    raw = timed(lambda v: state.search(v, FETCH, site_ids=site_ids), query_vectors)
    site_of_case = np.asarray(state.base.sites)
    order = np.argsort(state.base.ids)
    in_sites = np.isin(site_of_case[order], site_ids)  # by diagnostic id - 1

    def brute(v):
        scores = vectors @ v
        scores[~in_sites] = -np.inf
        top = np.argpartition(-scores, FETCH)[:FETCH]
        return top[np.argsort(-scores[top])]

    exact = timed(brute, query_vectors)
    recall = []
    for v in query_vectors[:200]:
        truth = set((brute(v)[:10] + 1).tolist())
        found = set(state.search(v, 10, site_ids=site_ids).ids.tolist())
        recall.append(len(truth & found) / 10)
    results = [len(similar_cases(diagnostic=d, user=user, k=10).cases) for d in queries[:50]]

    print(f"similar_cases service, k=10 ({len(queries)} queries): {summary_ms(service)}")
    print(f"  of which this process's CPU time: {summary_ms(service_cpu)}")
    print(f"  + the API's permission-scoped lookup of the diagnostic: {summary_ms(api_like)}")
    print(
        f"raw index search ({build.kind}, {FETCH} neighbours, site pre-filter): {summary_ms(raw)}"
    )
    print(
        f"brute-force NumPy over the same {args.cases:,} vectors (same sites): {summary_ms(exact)}"
    )
    print(f"recall@10 of the index against brute force: {statistics.mean(recall):.3f}; "
          f"queries answered with 10 cases: {sum(r == 10 for r in results)}/{len(results)}")  # fmt: skip
    p95 = percentile([s * 1000 for s in service], 95)
    print(f"targets: p95 {p95:.1f} ms (< 20 ms: {'met' if p95 < 20 else 'NOT met'}); rebuild "
          f"{rebuild_s:.1f} s (< 60 s: {'met' if rebuild_s < 60 else 'NOT met'}); "
          f"load average now {os.getloadavg()[0]:.1f}")  # fmt: skip


if __name__ == "__main__":
    main()
