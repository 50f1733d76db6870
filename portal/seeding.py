"""Seeding a PostgreSQL database with a realistic volume of synthetic clinical data, for the
benchmarks (``manage.py seed_bench``; ``bench/pages.py``, ``bench/export.py``).

Each table is one server-side ``INSERT … SELECT`` from ``generate_series``: nothing crosses the
wire, so 100,000 patients and 1,000,000 recordings with their diagnostics take minutes. Every
name is an obvious placeholder ("Given17 Family17"); no real person's data is involved. A quarter
of every site's diagnostics are reviewed, the rest wait for review, nearly all of them with a
review priority.
"""

import time

from django.conf import settings
from django.db import connection

SEED_SITES = """
INSERT INTO portal_site (code, name, created_at)
SELECT 'bench' || g, 'Bench clinic ' || g, now() FROM generate_series(1, %(sites)s) g
"""
# One patient in ten has not consented; ages from newborn to 95 at the time of the recordings.
SEED_PATIENTS = """
INSERT INTO portal_patient (site_id, external_id, given_name, family_name, birth_date, sex,
    research_consent, research_consent_at, created_at, updated_at, search_name,
    identifier_system, identifier_value)
SELECT s.ids[1 + g %% array_length(s.ids, 1)], 'BENCH-' || g, 'Given' || g, 'Family' || g,
    date '1928-01-01' + (g::bigint * 7919 %% 35000)::int, (ARRAY['female','male','other','unknown'])[1 + g %% 4],
    g %% 10 <> 0, CASE WHEN g %% 10 <> 0 THEN now() END, now(), now(),
    'family' || g || ' given' || g, '', ''
FROM generate_series(1, %(patients)s) g, (SELECT array_agg(id ORDER BY id) AS ids FROM portal_site) s
"""
# The keys ``portal.core.models.search_terms`` gives these names: each word on, in both orders,
# and the external id.
SEED_SEARCH_TERMS = """
INSERT INTO portal_patientsearchterm (patient_id, site_id, term)
SELECT p.id, p.site_id, t.term FROM portal_patient p,
    LATERAL (VALUES (p.search_name), ('given' || substr(p.external_id, 7)),
        ('given' || substr(p.external_id, 7) || ' family' || substr(p.external_id, 7)),
        ('family' || substr(p.external_id, 7)), ('bench ' || substr(p.external_id, 7))) t(term)
"""
SEED_MODELS = """
INSERT INTO diagnostics_modelversion (name, version, artifact, sha256, labels, sample_rate,
    clip_seconds, metrics, trained_on, status, canary_fraction, created_at, features,
    clinically_validated, input_reference, rollback_reasons, evaluation, comparison)
SELECT 'bench-cnn', '1.' || g, 'models/bench-' || g || '.keras', repeat('0', 64),
    '["healthy", "anomaly", "inconclusive"]', 16000, 5.0, '{}', 'synthetic', 'archived', 0, now(),
    '{}', false, '{}', '[]', '{}', '{}'
FROM generate_series(1, 3) g
"""
SEED_RECORDINGS = """
INSERT INTO media_assets_recording (patient_id, kind, status, storage_key, original_name,
    content_type, size_bytes, sha256, duration_s, sample_rate, channels, quality, created_at,
    stored_at, spectrogram_key)
SELECT p.ids[1 + g %% array_length(p.ids, 1)], (ARRAY['cough','breath','speech'])[1 + g %% 3],
    'stored', 'recordings/bench/' || g || '.wav', '.wav', 'audio/wav', 96044,
    lpad(to_hex(g), 64, '0'), round((1 + random() * 9)::numeric, 2), 16000, 1,
    jsonb_build_object('clipping_ratio', round(random()::numeric, 4),
        'silence_ratio', round(random()::numeric, 4),
        'loudness_dbfs', round((-60 + random() * 50)::numeric, 2),
        'peak_dbfs', round((-20 + random() * 20)::numeric, 2),
        'cough_score', round(random()::numeric, 4), 'cough_detected', random() > 0.3,
        'warnings', '[]'::jsonb),
    timestamptz '2023-01-01' + g * interval '47 seconds',
    timestamptz '2023-01-01' + g * interval '47 seconds', ''
FROM generate_series(1, %(rows)s) g, (SELECT array_agg(id ORDER BY id) AS ids FROM portal_patient) p
"""
SEED_DIAGNOSTICS = """
INSERT INTO diagnostics_diagnostic (recording_id, patient_id, status, label, confidence, scores,
    model_version_id, symptoms, timings, task_id, queued_at, started_at, finished_at, attempts,
    error, review_label, review_note, reviewed_at, quality_gate, urgent)
SELECT r.id, r.patient_id, 'succeeded', l.label, l.confidence,
    jsonb_build_object(l.label, l.confidence), m.ids[1 + r.id %% 3],
    jsonb_build_object('fever', r.id %% 2 = 0, 'cough_days', r.id %% 30,
        'known_conditions', CASE WHEN r.id %% 5 = 0 THEN '["asthma", "smoker"]'::jsonb
                                 ELSE '[]'::jsonb END),
    '{}', '', r.created_at, r.created_at, r.created_at + interval '2 seconds', 1, '',
    CASE WHEN (r.id / 4) %% 4 = 0 THEN l.label ELSE '' END, '',
    CASE WHEN (r.id / 4) %% 4 = 0 THEN r.created_at + interval '1 day' END, '', false
FROM media_assets_recording r,
    (SELECT array_agg(id ORDER BY id) AS ids FROM diagnostics_modelversion) m,
    LATERAL (SELECT (ARRAY['healthy','anomaly','inconclusive'])[1 + r.id %% 3] AS label,
                    round(random()::numeric, 4)::float AS confidence) l
"""
# The recommender's review priorities, as ``recommender.priority`` stores them (uncertainty only:
# no similar cases are indexed here). The newest 1 in 200 waiting results are left unscored, as
# results seconds old are, so a queue page exercises both halves of the priority order.
SEED_PRIORITIES = """
INSERT INTO recommender_reviewpriority (diagnostic_id, uncertainty, disagreement, neighbours,
    neighbour_labels, base_score, rank_key, model_version_id, computed_at)
SELECT d.id, u.uncertainty, NULL, 0, '{}', %(w_uncertainty)s * u.uncertainty,
    %(w_uncertainty)s * u.uncertainty
        - %(w_age)s * extract(epoch FROM d.queued_at) / (%(age_scale_days)s * 86400),
    d.model_version_id, now()
FROM diagnostics_diagnostic d,
    LATERAL (SELECT round((1 - abs(d.confidence - 0.5) * 2)::numeric, 6)::float AS uncertainty) u,
    (SELECT max(id) AS top FROM diagnostics_diagnostic) m
WHERE d.status = 'succeeded' AND d.review_label = '' AND d.id <= m.top - %(rows)s / 200
"""


TABLES = (
    "diagnostics_diagnostic, media_assets_recording, portal_researchpseudonym,"
    " media_assets_recordingpseudonym, portal_auditevent, portal_patient, portal_membership,"
    " portal_site, diagnostics_modelversion, recommender_reviewpriority, portal_patientsearchterm"
)


def seeded_counts() -> tuple[int, int]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT (SELECT count(*) FROM portal_patient),"
                       " (SELECT count(*) FROM diagnostics_diagnostic)")  # fmt: skip
        return cursor.fetchone()


def seed(*, sites: int, patients: int, diagnostics: int, log=print) -> float:
    """Empty the clinical tables and fill them; the seconds it took. PostgreSQL only."""
    if connection.vendor != "postgresql":
        raise RuntimeError("Seeding at benchmark scale needs PostgreSQL (set DATABASE_URL).")
    started = time.perf_counter()
    weights = settings.RECOMMENDER_PRIORITY_WEIGHTS
    params = {"sites": sites, "patients": patients, "rows": diagnostics,
              "w_uncertainty": weights["uncertainty"], "w_age": weights["age"],
              "age_scale_days": settings.RECOMMENDER_AGE_SCALE_DAYS}  # fmt: skip
    with connection.cursor() as cursor:
        # The audit log refuses DELETE and UPDATE (a trigger); TRUNCATE empties it for a bench.
        cursor.execute(f"TRUNCATE {TABLES} CASCADE")
        steps = [("sites", SEED_SITES), ("patients", SEED_PATIENTS),
                 ("search terms", SEED_SEARCH_TERMS), ("model versions", SEED_MODELS),
                 ("recordings", SEED_RECORDINGS), ("diagnostics", SEED_DIAGNOSTICS),
                 ("review priorities", SEED_PRIORITIES)]  # fmt: skip
        for name, statement in steps:
            cursor.execute(statement, params)
            log(f"  {name}: {cursor.rowcount:,} rows, {time.perf_counter() - started:.0f} s")
        cursor.execute("ANALYZE")
    return time.perf_counter() - started
