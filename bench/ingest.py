"""Ingestion benchmark: 5-second clips through ``POST /api/v1/recordings/`` against PostgreSQL.

Usage (PostgreSQL and Redis running; the database is created if needed and emptied first):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/portal_bench \\
    REDIS_URL=redis://127.0.0.1:6379/5 .venv/bin/python bench/ingest.py [--uploads 2000]

It prints uploads/s and p50/p95/p99 latency at 1, 4 and 16 concurrent uploads, the server's peak RSS,
its RSS growth over the long run, and the memory held while one ~20 MB upload is processed.
Targets (2 cores): >= 50 uploads/s at 4 concurrent, p95 < 150 ms, RSS growth < 50 MB over 2,000.
"""

import argparse
import io
import os
import sys
import time
import wave
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.harness import (
    ROOT,
    UNLIMITED,
    RssSampler,
    machine,
    require_services,
    start_server,
    summary_ms,
)

PORT = 8931
PASSWORD = "bench-password-123"


def bench_clinician():
    """The benchmark's clinic and its clinician (password ``PASSWORD``), in a fresh database."""
    from django.contrib.auth import get_user_model

    from portal.core.models import Membership, Site

    site = Site.objects.create(code="bench", name="Bench clinic")
    user, _ = get_user_model().objects.get_or_create(username="bench-clinician")
    user.set_password(PASSWORD)
    user.save()
    Membership.objects.create(user=user, site=site, role="clinician")
    return site, user


def wav_bytes(samples: np.ndarray, rate: int, channels: int = 1) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    return out.getvalue()


def clip(seed: int, seconds: float = 5.0, rate: int = 16000) -> bytes:
    """A distinct 5-second cough-like clip per seed, so no upload is a duplicate of another."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    signal = 0.003 * rng.standard_normal(t.size)
    for start in (0.5, 2.0, 3.5):
        burst = (t >= start) & (t < start + 0.3)
        signal[burst] += 0.5 * rng.standard_normal(burst.sum()) * np.exp(-(t[burst] - start) / 0.06)
    return wav_bytes(signal, rate)


def prepare_database(env: dict) -> tuple[int, str]:
    """Migrate, empty the tables the benchmark fills, and make a clinician with one patient."""
    import django

    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE diagnostics_diagnostic, media_assets_recording, portal_auditevent,"
            " portal_patient, portal_membership, portal_site CASCADE"
        )

    from portal.core.models import Patient

    site, user = bench_clinician()
    patient = Patient.objects.create(
        site=site, external_id="BENCH-1", given_name="Bench", family_name="Patient",
        birth_date="1980-01-01",
    )  # fmt: skip
    return patient.pk, user.username


def run_round(base: str, token: str, patient: int, clips: list[bytes], concurrency: int):
    latencies: list[float] = []
    failures: list[str] = []

    # One client with kept-alive connections, as a browser or an integration would use; a new
    # connection per upload would measure the client's own set-up on these shared cores.
    client = httpx.Client(limits=httpx.Limits(max_connections=concurrency))

    def upload(content: bytes) -> None:
        started = time.perf_counter()
        response = client.post(
            f"{base}/api/v1/recordings/",
            headers={"Authorization": f"Bearer {token}"},
            data={"patient": str(patient), "kind": "cough"},
            files={"file": ("clip.wav", content, "audio/wav")},
            timeout=60,
        )
        latencies.append(time.perf_counter() - started)
        if response.status_code != 201:
            failures.append(f"{response.status_code} {response.text[:200]}")

    started = time.perf_counter()
    with client, ThreadPoolExecutor(max_workers=concurrency) as pool:
        list(pool.map(upload, clips))
    elapsed = time.perf_counter() - started
    return len(clips) / elapsed, latencies, failures


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--uploads", type=int, default=2000, help="uploads in the long run")
    parser.add_argument("--per-round", type=int, default=300)
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    args = parser.parse_args()
    require_services()
    media_root = ROOT / "var" / "bench-media"
    # What is measured is the upload path: the benchmark's user is not rate-limited (UNLIMITED).
    env = {**os.environ, **UNLIMITED, "MEDIA_ROOT": str(media_root), "LOG_LEVEL": "WARNING"}
    patient, username = prepare_database(env)
    server = start_server(PORT, env, workers=args.workers)
    base = f"http://127.0.0.1:{PORT}"
    try:
        token = httpx.post(
            f"{base}/api/v1/auth/token/", json={"username": username, "password": PASSWORD}
        ).json()["access"]
        print(f"machine: {machine()}; server: uvicorn --workers {args.workers}; "
              f"clip: 5 s, 16 kHz mono WAV ({len(clip(0)) // 1024} KiB)")  # fmt: skip
        seed = 0
        for concurrency in (1, 4, 16):
            clips = [clip(seed + i) for i in range(args.per_round)]
            seed += args.per_round
            with RssSampler(server.pid) as rss:
                rate, latencies, failures = run_round(base, token, patient, clips, concurrency)
            print(f"concurrency {concurrency:2d}: {rate:6.1f} uploads/s  {summary_ms(latencies)}  "
                  f"peak RSS {rss.peak / 2**20:6.1f} MB  failures {len(failures)}")  # fmt: skip
            for failure in failures[:3]:
                print("   ", failure)
        with RssSampler(server.pid) as rss:
            before = rss.current()
            clips = (clip(seed + i) for i in range(args.uploads))
            rate, latencies, failures = run_round(base, token, patient, list(clips), 4)
            after = rss.current()
        seed += args.uploads
        print(f"long run: {args.uploads} uploads at 4 concurrent: {rate:6.1f} uploads/s  "
              f"{summary_ms(latencies)}  RSS {before / 2**20:.1f} -> {after / 2**20:.1f} MB "
              f"(growth {(after - before) / 2**20:+.1f} MB, peak {rss.peak / 2**20:.1f} MB)  "
              f"failures {len(failures)}")  # fmt: skip
        for failure in failures[:3]:
            print("   ", failure)
        big = wav_bytes(np.zeros(96000 * 52 * 2), 96000, channels=2)
        with RssSampler(server.pid) as rss:
            before = rss.current()
            started = time.perf_counter()
            response = httpx.post(
                f"{base}/api/v1/recordings/", headers={"Authorization": f"Bearer {token}"},
                data={"patient": str(patient), "kind": "breath"},
                files={"file": ("big.wav", big, "audio/wav")}, timeout=120,
            )  # fmt: skip
            elapsed = time.perf_counter() - started
        print(f"one {len(big) / 2**20:.1f} MB upload: status {response.status_code} in "
              f"{elapsed * 1000:.0f} ms; server RSS peak {rss.peak / 2**20:.1f} MB "
              f"({(rss.peak - before) / 2**20:+.1f} MB over the {before / 2**20:.1f} MB before)")  # fmt: skip
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
