"""Inference benchmark: the model alone, the task pipeline around it, and upload-to-result latency.

Usage (PostgreSQL and Redis running; the database is created if needed and emptied first, and the
Redis database is flushed, so give the benchmark its own of each):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/portal_bench_inference \\
    REDIS_URL=redis://127.0.0.1:6379/6 .venv/bin/python bench/inference.py [--artifact PATH]

Without ``--artifact`` it first trains the synthetic baseline with
``diagnostics.ml.train.train_synthetic_baseline`` (its defaults, about two minutes on two busy
cores) and saves it to ``var/bench/inference-baseline.zip``; pass that path as ``--artifact`` next
time. ``--parts ab`` runs only parts (a) and (b) (default: ``abwc``); ``--rates``, ``--seconds``,
``--clips``, ``--rounds``, ``--calls`` and ``--server-workers`` change the sizes (see ``--help``).

It prints, on 5-second 16 kHz clips:

(a) throughput of the model alone (``LoadedModel.infer`` on a prepared [n, samples] array, in
    batches of 16) against the task pipeline on the same clips (``diagnostics.inference.
    run_diagnostic`` in this process, as a worker's task runs under load: the claims, storage
    read, decoding, features, model, database writes, live messages and follow-up messages, until
    they are all sent), and their ratio, as medians over ``--rounds`` alternating rounds (default
    4 of 256 clips) so that a machine whose speed drifts slows both alike. Each round is one task,
    whose first call and last results the model cannot overlap: with rounds of 64 clips that
    fixed cost weighs four times as much. Target: at least 0.7.
(w) the same kind of clips (``--clips``) through a real inference worker process: every upload
    committed at once, the time from the first claim to the last result against the model alone
    in this process just before and after (the worker idle). Unlike (a) it counts the whole
    task: the broker's messages (one a batch: ``diagnostics.inference_queue``), the claim, the
    worker's own handling. It also prints how long the worker's model calls took in all (from
    the timings each result records) and which share of the time the model was busy.
(b) milliseconds per clip, features included (``LoadedModel.predict``: waveform in, labelled
    prediction out), at batch 1 and 16: median and p95 over ``--calls`` calls (default 300) of a
    model loaded and warmed once. Target: p95 under 12 ms at batch 1 on two CPU cores.
(c) end-to-end latency from the upload request to the WebSocket message with the result, at 5 and
    10 uploads per second for ``--seconds`` (default 60) each, against a uvicorn server (two
    processes, as ``bench/ingest.py`` runs it) and one inference worker (``celery -A portal worker
    -Q inference --concurrency 1``) on PostgreSQL and Redis; a client subscribes to
    ``ws/patients/<id>/`` before each upload. p50/p95/p99, plus how the worker batched. Target: p95 under 250 ms at 10 uploads/s.

Everything runs in the inference worker's environment as ``make run`` gives it
(``runstack.inference_env``: without a GPU, TensorFlow on one thread per pool, which stops its
idle threads spinning on cores the rest of the pipeline needs). The client, the server, the
worker and PostgreSQL share the machine; ``machine()`` and the load average printed first say how
busy it was.
"""

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import numpy as np
import websockets

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.harness import ROOT, UNLIMITED, machine, percentile, require_services, summary_ms
from bench.ingest import PASSWORD, bench_clinician, clip

BENCH_DIR = ROOT / "var" / "bench"
MEDIA_ROOT = BENCH_DIR / "inference-media"
DEFAULT_ARTIFACT = BENCH_DIR / "inference-baseline.zip"


def setup_django(env: dict) -> None:
    import django

    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    django.setup()


def prepare_database(n_patients: int):
    """Migrate, empty what the benchmark fills, flush its Redis; a clinician and her patients."""
    import redis
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    from portal.core.models import Patient

    call_command("migrate", verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE diagnostics_diagnostic, diagnostics_modelversion, media_assets_recording,"
            " portal_auditevent, portal_patient, portal_membership, portal_site CASCADE"
        )
    redis.Redis.from_url(settings.REDIS_URL).flushdb()
    site, user = bench_clinician()
    patients = Patient.objects.bulk_create(
        Patient(site=site, external_id=f"BENCH-{i}", given_name="Bench", family_name=f"P{i}",
                birth_date="1980-01-01")
        for i in range(n_patients)
    )  # fmt: skip
    return user, patients


def production_model(artifact: Path | None):
    """Register (training first if need be) the model every part of the benchmark uses."""
    from diagnostics import registry
    from diagnostics.ml.model import save_artifact
    from diagnostics.ml.train import train_synthetic_baseline
    from diagnostics.models import ModelStatus

    if artifact is None:
        print("training the synthetic baseline (train_synthetic_baseline, defaults)…", flush=True)
        started = time.monotonic()
        result = train_synthetic_baseline()
        artifact = DEFAULT_ARTIFACT
        metadata = result.to_metadata(name="cough-cnn-synthetic", version="bench")
        save_artifact(result.model, metadata, artifact)
        print(f"  trained in {time.monotonic() - started:.0f} s; saved to {artifact}")
    return registry.register_model_version(artifact_path=artifact, status=ModelStatus.PRODUCTION)


def decoded(wav: bytes) -> np.ndarray:
    from media_assets import audio

    return audio.decode(wav, max_duration_s=60, min_duration_s=0, target_rate=16000).samples


# --- (b) milliseconds per clip ----------------------------------------------------------------


def per_clip_latency(model, clips: list[np.ndarray], calls: int) -> None:
    for batch in (1, 16):
        waveforms = clips[:batch]
        for _ in range(10):
            model.predict(waveforms)
        per_clip = []
        for _ in range(calls):
            started = time.perf_counter()
            model.predict(waveforms)
            per_clip.append((time.perf_counter() - started) * 1000 / batch)
        print(
            f"(b) batch {batch:2d}: {statistics.median(per_clip):6.2f} ms per clip median, "
            f"p95 {percentile(per_clip, 95):6.2f} ms  ({calls} calls, features included)"
        )


# --- (a) the model alone against the task pipeline --------------------------------------------


def submit_all(user, patient, wavs: list[bytes], *, keep_messages: bool = False) -> list[int]:
    """Diagnostics waiting for analysis, as uploads leave them; their task messages are dropped
    (no worker will take them here) unless ``keep_messages``."""
    import redis
    from django.conf import settings
    from django.core.files.uploadedfile import SimpleUploadedFile

    from diagnostics.services import submit_recording

    ids = []
    for i, wav in enumerate(wavs):
        upload = SimpleUploadedFile(f"clip-{i}.wav", wav, content_type="audio/wav")
        submission = submit_recording(
            patient=patient, file=upload, kind="cough", symptoms={}, actor=user
        )
        ids.append(submission.diagnostic.pk)
    if not keep_messages:
        redis.Redis.from_url(settings.REDIS_URL).flushdb()
    return ids


def raw_seconds(model, prepared: np.ndarray, batch: int) -> float:
    started = time.perf_counter()
    for start in range(0, len(prepared), batch):
        model.infer(prepared[start : start + batch])
    return time.perf_counter() - started


def live_messages_sent(diagnostic_id: int) -> None:
    """Wait until every live message this process has handed to its publisher is sent: a
    publish that waits goes out after all earlier ones (``diagnostics.live``)."""
    from diagnostics import live
    from diagnostics.models import Diagnostic

    live.publish(Diagnostic.objects.get(pk=diagnostic_id))


def task_seconds(user, patient, wavs: list[bytes]) -> float:
    """Seconds for the inference task, run in this process, to take these uploads from its first
    claim to their results recorded and announced (live messages and follow-up messages sent).

    The uploads are committed first, their own live messages sent, their broker messages dropped;
    then one task takes them all, batch after batch, as a worker's task does under load.
    """
    from diagnostics import inference
    from diagnostics.models import Diagnostic, DiagnosticStatus
    from portal.core import dispatch

    ids = submit_all(user, patient, wavs)
    live_messages_sent(ids[-1])  # the uploads' own
    started = time.perf_counter()
    inference.run_diagnostic(diagnostic_id=ids[0], task_id=str(uuid.uuid4()))
    live_messages_sent(ids[-1])  # the task's own
    dispatch.flush()  # and its follow-up messages
    seconds = time.perf_counter() - started
    done = Diagnostic.objects.filter(pk__in=ids, status=DiagnosticStatus.SUCCEEDED).count()
    if done != len(ids):
        raise RuntimeError(f"the task analysed {done} of {len(ids)} uploads")
    return seconds


def throughput_ratio(model, user, patient, wavs, clips, rounds: int, batch: int = 16) -> None:
    """Alternate rounds of the model alone and of the task on the same clips, so that a busy
    machine slows both alike; print the medians over the rounds."""
    from diagnostics.ml.features import fit_clips

    prepared = fit_clips(clips, model.clip_samples)
    task_seconds(user, patient, wavs[:batch])  # warm-up: first decode, first queries
    raw_seconds(model, prepared[:batch], batch)
    wavs, per_round = wavs[batch:], len(clips) // rounds
    raw, task = [], []
    for r in range(rounds):
        part = slice(r * per_round, (r + 1) * per_round)
        raw.append(per_round / raw_seconds(model, prepared[part], batch))
        task.append(per_round / task_seconds(user, patient, wavs[part]))
    ratios = [t / r for t, r in zip(task, raw, strict=True)]
    print(
        f"(a) model alone {statistics.median(raw):6.1f} clips/s; the task in this process "
        f"{statistics.median(task):6.1f} clips/s; ratio {statistics.median(ratios):.2f}"
        f"  (medians of {rounds} alternating rounds of {per_round} clips)"
    )
    for r in range(rounds):
        print(f"    round {r + 1}: model {raw[r]:6.1f}, task {task[r]:6.1f} clips/s")


def worker_throughput(env: dict, model, user, patient, wavs, clips, batch: int = 16) -> None:
    """The same kind of clips through a real inference worker process: the whole task, from the
    broker message to the recorded result.

    The worker is warmed with one upload; then every upload is committed in one transaction, so
    the worker meets a full queue at once. Its throughput runs from the first claim to the last
    result (the diagnostics' own timestamps); the model alone is measured in this process just
    before and just after, the worker idle. This process stays out of the worker's way while it
    runs: the uploads' work after their commit is done before the worker hears of them, and the
    poll for the end is cheap.
    """
    import redis
    from django.conf import settings
    from django.db import transaction
    from django.db.models import Max, Min

    from diagnostics import inference_queue
    from diagnostics.ml.features import fit_clips
    from diagnostics.models import Diagnostic, DiagnosticStatus

    prepared = fit_clips(clips, model.clip_samples)
    redis.Redis.from_url(settings.REDIS_URL).flushdb()  # messages part (a)'s claims passed on
    worker, log = start_worker(env)
    try:
        (warm,) = submit_all(user, patient, [clip(30_000)], keep_messages=True)
        wait_until_finished([warm], timeout=120)
        raw_seconds(model, prepared[:batch], batch)  # this process's first call traces the model
        before = len(prepared) / raw_seconds(model, prepared, batch)
        # All committed at once, a full queue. The uploads' own work after their commit (a live
        # message each, with its queue position) is done before the worker hears of them: it is
        # this process's, not the worker's, and on two cores it would take the worker's CPU.
        # Then the one message the first upload would have sent.
        inference_queue.broker().set(inference_queue.MARK, 0)  # as if a message waited
        with transaction.atomic():
            ids = submit_all(user, patient, wavs, keep_messages=True)
        live_messages_sent(ids[-1])
        inference_queue.taken()
        inference_queue.send_unless_waiting(ids[0])
        wait_until_finished(ids, timeout=600)
        after = len(prepared) / raw_seconds(model, prepared, batch)
    finally:
        stop(worker)
    done = Diagnostic.objects.filter(pk__in=ids)
    span = done.aggregate(first=Min("started_at"), last=Max("finished_at"))
    seconds = (span["last"] - span["first"]).total_seconds()
    succeeded = done.filter(status=DiagnosticStatus.SUCCEEDED).count()
    through_worker = len(ids) / seconds
    alone = (before + after) / 2
    # The worker's model calls, from the timings each result records (a call's ms, its size).
    model_s = sum(
        t["batch_inference_ms"] / 1000 / t["batch_size"]
        for t in done.values_list("timings", flat=True)
    )
    print(
        "(w) through a worker process: "
        f"{len(ids)} clips in {seconds:.2f} s = "
        f"{through_worker:6.1f} clips/s ({succeeded} succeeded); model alone {before:6.1f} before,"
        f" {after:6.1f} after; ratio {through_worker / alone:.2f}  (log: {log})\n"
        f"    the worker's model calls: {model_s:.2f} s in all ({len(ids) / model_s:6.1f} clips/s"
        f" while in the model), busy {model_s / seconds:.0%} of the time"
    )


def wait_until_finished(ids: list[int], timeout: float) -> None:
    from django.db.models import Q

    from diagnostics.models import Diagnostic, DiagnosticStatus

    deadline = time.monotonic() + timeout
    finished = (DiagnosticStatus.SUCCEEDED, DiagnosticStatus.FAILED)
    # A range when the ids are consecutive (one transaction's uploads): compiling an IN list of
    # thousands every poll cost this process a fifth of a core beside the worker it measures.
    consecutive = max(ids) - min(ids) + 1 == len(ids)
    chosen = Q(pk__range=(min(ids), max(ids))) if consecutive else Q(pk__in=ids)
    unfinished = Diagnostic.objects.filter(chosen).exclude(status__in=finished)
    while unfinished.exists():
        if time.monotonic() > deadline:
            raise RuntimeError(f"the worker did not finish {len(ids)} diagnostics in {timeout} s")
        time.sleep(0.1)


# --- (c) end to end ---------------------------------------------------------------------------


def start(name: str, argv: list[str], env: dict, ready) -> tuple[subprocess.Popen, Path]:
    """Start a process logging to ``var/bench/<name>.log``; wait until ``ready(log text)``."""
    log = BENCH_DIR / f"{name}.log"
    with log.open("wb") as handle:
        process = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while not ready(log.read_text(errors="replace")):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"{name} did not start; see {log}")
        time.sleep(0.2)
    return process, log


def start_worker(env: dict) -> tuple[subprocess.Popen, Path]:
    argv = [sys.executable, "-m", "celery", "-A", "portal", "worker", "-Q", "inference",
            "--concurrency", "1", "--loglevel", "INFO", "-n", "bench-inference@%h",
            "--without-gossip", "--without-mingle", "--without-heartbeat"]  # fmt: skip
    return start("inference-worker", argv, env, lambda log: " ready." in log)


def free_port() -> int:
    # Other benchmarks may hold their fixed ports on a shared machine.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(env: dict, port: int, workers: int) -> tuple[subprocess.Popen, Path]:
    argv = [sys.executable, "-m", "uvicorn", "portal.asgi:application", "--host", "127.0.0.1",
            "--port", str(port), "--no-access-log", "--lifespan", "off",
            "--workers", str(workers)]  # fmt: skip

    def healthy(_log: str) -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    return start("inference-server", argv, env, healthy)


def session_cookie(user) -> str:
    from django.conf import settings
    from django.test import Client

    client = Client()
    client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


async def upload_and_wait(
    http, base, token, cookie, patient_id, wav, at
) -> tuple[float, int, float]:
    """Subscribe to the patient, upload at ``at``, wait for the result.

    Returns (seconds to the result message, the diagnostic's id, seconds to the upload's response,
    and the wall-clock times of the upload's start and of the message, for the stages).
    """
    ws_url = base.replace("http://", "ws://") + f"/ws/patients/{patient_id}/"
    headers = {"Cookie": cookie, "Origin": base}
    async with websockets.connect(ws_url, additional_headers=headers, open_timeout=60) as ws:
        await asyncio.sleep(max(0.0, at - time.perf_counter()))
        started, wall = time.perf_counter(), time.time()
        response = await http.post(
            f"{base}/api/v1/recordings/", headers={"Authorization": f"Bearer {token}"},
            data={"patient": str(patient_id), "kind": "cough"},
            files={"file": ("clip.wav", wav, "audio/wav")},
        )  # fmt: skip
        if response.status_code != 201:
            raise RuntimeError(f"{response.status_code} {response.text[:200]}")
        diagnostic_id = response.json()["diagnostic"]["id"]
        responded = time.perf_counter() - started
        async with asyncio.timeout(60):
            while True:
                message = json.loads(await ws.recv())
                if message["id"] == diagnostic_id and message["status"] in ("succeeded", "failed"):
                    latency = time.perf_counter() - started
                    return latency, diagnostic_id, responded, wall, time.time()


async def run_rate(base, token, cookie, patients, wavs, rate: float, seconds: float):
    n = int(rate * seconds)
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=50)
    async with httpx.AsyncClient(timeout=60, limits=limits) as http:
        start = time.perf_counter() + 1.0
        tasks = []
        for i in range(n):
            at = start + i / rate
            await asyncio.sleep(max(0.0, at - 0.5 - time.perf_counter()))  # subscribe just before
            tasks.append(asyncio.create_task(
                upload_and_wait(http, base, token, cookie, patients[i].pk, wavs[i], at)
            ))  # fmt: skip
        results = await asyncio.gather(*tasks, return_exceptions=True)
    done = [r for r in results if not isinstance(r, BaseException)]
    failures = [r for r in results if isinstance(r, BaseException)]
    return [r[0] for r in done], failures, {r[1]: r[2:] for r in done}


def end_to_end(env: dict, user, patients, rates, seconds: float, seed: int, workers: int) -> None:
    from diagnostics.models import Diagnostic

    worker, worker_log = start_worker({**env, "LOG_LEVEL": "INFO"})  # " ready." is said at INFO
    server = None
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    try:
        server, server_log = start_server(env, port, workers)
        token = httpx.post(
            f"{base}/api/v1/auth/token/", json={"username": user.username, "password": PASSWORD},
            timeout=60,
        ).json()["access"]  # fmt: skip
        cookie = session_cookie(user)
        # One upload first, so the worker has loaded the model before anything is measured.
        warm = asyncio.run(run_rate(base, token, cookie, patients[:1], [clip(seed)], 1, 1))
        if warm[1]:
            raise RuntimeError(f"the warm-up upload failed: {warm[1][0]!r}")
        used = 1
        for rate in rates:
            n = int(rate * seconds)
            wavs = [clip(seed + used + i) for i in range(n)]
            batch = patients[used : used + n]
            latencies, failures, uploads = asyncio.run(
                run_rate(base, token, cookie, batch, wavs, rate, seconds)
            )
            used += n
            responses = [response for response, _, _ in uploads.values()]
            timings = [d.timings for d in Diagnostic.objects.filter(pk__in=uploads)]
            sizes = [t.get("batch_size", 0) for t in timings]
            waits = [t.get("queue_wait_s", 0.0) for t in timings]
            print(
                f"(c) {rate:4.1f} uploads/s for {seconds:.0f} s: {summary_ms(latencies)}  "
                f"n={len(latencies)} failures={len(failures)}  batches: mean size "
                f"{statistics.mean(sizes) if sizes else 0:.2f}, max {max(sizes, default=0)}; "
                f"queue wait p95 {percentile(waits, 95) * 1000 if waits else 0:.0f} ms"
            )
            analysis = [t.get("batch_inference_ms", 0.0) for t in timings]
            print(
                f"    of which the upload's response {summary_ms(responses)}; "
                f"model time per batch p95 {percentile(analysis, 95) if analysis else 0:.0f} ms"
            )
            print_stages(uploads)
            for failure in failures[:3]:
                print("    ", repr(failure)[:200])
    finally:
        for process in (server, worker):
            if process is not None:
                stop(process)
    print(f"    (logs: {worker_log}, {server_log})")


def print_stages(uploads: dict) -> None:
    """Where each upload's time went, from the client's clock and the diagnostic's own times (one
    machine, one clock): the upload's commit, the wait for the worker, the analysis, and the
    message from the worker's result to the client."""
    from diagnostics.models import Diagnostic

    stages = {"to queued": [], "waiting": [], "analysis": [], "message": []}
    rows = Diagnostic.objects.filter(pk__in=uploads).values_list(
        "pk", "queued_at", "started_at", "finished_at"
    )
    for pk, queued, started, finished in rows:
        if None in (queued, started, finished):
            continue
        _, sent, received = uploads[pk]
        stages["to queued"].append(queued.timestamp() - sent)
        stages["waiting"].append((started - queued).total_seconds())
        stages["analysis"].append((finished - started).total_seconds())
        stages["message"].append(received - finished.timestamp())
    for name, seconds in stages.items():
        if seconds:
            print(f"    {name:>10}: {summary_ms(seconds)}")


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:  # uvicorn waits for open WebSockets
        process.kill()
        process.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--artifact", type=Path, help="a model artifact; default: train one")
    parser.add_argument("--clips", type=int, default=1024, help="clips for parts (a) and (w)")
    parser.add_argument("--rounds", type=int, default=4, help="alternating rounds in (a)")
    parser.add_argument("--calls", type=int, default=300, help="calls per batch size in (b)")
    parser.add_argument("--seconds", type=float, default=60, help="duration of each rate in (c)")
    parser.add_argument("--rates", type=float, nargs="+", default=[5, 10])
    parser.add_argument("--server-workers", type=int, default=2, help="uvicorn processes in (c)")
    parser.add_argument("--parts", default="abwc", help="which parts to run, e.g. 'ab'")
    args = parser.parse_args()
    require_services()
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    from portal.management.commands.runstack import inference_env

    # The worker's own environment (`make run` starts it so): without a GPU, TensorFlow on one
    # thread per pool, for the model alone, the pipeline and the worker of (c) alike.
    # Part (c) uploads through the API: no rate limit or upload quota (``UNLIMITED``).
    env = inference_env({
        **os.environ, **UNLIMITED, "MEDIA_ROOT": str(MEDIA_ROOT), "LOG_LEVEL": "WARNING",
        "MODEL_CACHE_DIR": str(BENCH_DIR / "model-cache"), "TF_CPP_MIN_LOG_LEVEL": "2",
        "INFERENCE_METRICS_PORT": str(free_port()),
    })  # fmt: skip
    setup_django(env)
    n_patients = 2 + int(sum(args.rates) * args.seconds)
    user, patients = prepare_database(n_patients)
    version = production_model(args.artifact)

    from diagnostics.model_cache import get_model

    model = get_model(version)  # loaded and warmed once, as in a worker
    print(
        f"machine: {machine()}, load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}; "
        f"model: {version} ({model.clip_samples / 16000:.0f} s clips)"
    )
    wavs = [clip(10_000 + i) for i in range(args.clips + 16)]
    clips = [decoded(wav) for wav in wavs]
    if "b" in args.parts:
        per_clip_latency(model, clips, args.calls)
    if "a" in args.parts:
        throughput_ratio(model, user, patients[-1], wavs, clips[16:], rounds=args.rounds)
    if "w" in args.parts:
        worker_wavs = [clip(40_000 + i) for i in range(args.clips)]
        worker_throughput(
            {**env, "LOG_LEVEL": "INFO"}, model, user, patients[-1], worker_wavs,
            [decoded(wav) for wav in worker_wavs],
        )  # fmt: skip
    if "c" in args.parts:
        end_to_end(
            env, user, patients[:-1], args.rates, args.seconds, seed=20_000,
            workers=args.server_workers,
        )  # fmt: skip


if __name__ == "__main__":
    main()
