"""CPU per request of each step of the load benchmark's clinician visit, one request at a time.

Usage (after ``bench/load.py`` has seeded its database and written its plan; same environment):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/portal_bench_load \\
    REDIS_URL=redis://127.0.0.1:6379/11 .venv/bin/python bench/visit_cost.py [--visits 60]

At 100 users the load benchmark's p95s follow how busy the two cores are, and they change by more
from one run to the next than most changes to a page do. What a change saves is read here
instead: in this process, through Django's test client (the whole middleware chain, the view and
its template, not the ASGI server), a clinician of the load plan asks for each step of the
visit ``bench/locustfile.py`` makes, for ``--visits`` different patients: home, the patient search
(its POST and the list it redirects to), the patient page, the pending-results call, an upload
(to patients outside the plan: they wait, queued, until the next ``bench/load.py`` starts its
workers, which analyse them before its warm-up), the result card and the result page. ``/healthz`` is the baseline of the same run: the middleware and nothing
else. It prints per step the CPU this process used (mean and median) and the CPU PostgreSQL's
processes used (mean; the server must be on this machine), and the wall-clock median; then the
sum over a visit. Run it on a quiet machine, and compare runs made alternately.
"""

import argparse
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.harness import UNLIMITED, cpu_seconds, machine, require_services, server_processes
from bench.load import BENCH_DIR, PLAN_FILE


def setup(*, freeze: bool = True) -> None:
    """Django set up with the benchmark's settings; ``freeze``: its start-up objects frozen out
    of the collector's full passes, as a web process's are (``portal/core/heap.py``)."""
    import django

    os.environ.update(
        {**UNLIMITED, "MEDIA_ROOT": str(BENCH_DIR / "load-media"), "LOG_LEVEL": "WARNING"}
    )
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    django.setup()
    if freeze:
        from portal.core.heap import freeze_web_process

        freeze_web_process()


def postgres_cpu_s() -> float:
    """CPU seconds used so far by every PostgreSQL process of this machine."""
    return cpu_seconds(server_processes("postgres"))


def visit_steps(plan: dict, visits: int) -> tuple[dict, list]:
    """{step name: request(patient id, search term)} and the patients to visit."""
    from django.contrib.auth import get_user_model
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.test import Client

    from bench.ingest import clip
    from diagnostics.models import Diagnostic, DiagnosticStatus
    from portal.core.models import Patient

    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(get_user_model().objects.get(username=plan["clinicians"][0]))
    patients = [(pk, search) for pk, search in plan["patients"][: visits + 3]]
    finished = dict(
        Diagnostic.objects.filter(
            patient_id__in=[pk for pk, _ in patients], status=DiagnosticStatus.SUCCEEDED
        )
        .order_by("patient_id", "-id")
        .distinct("patient_id")
        .values_list("patient_id", "pk")
    )
    patients = [(pk, search) for pk, search in patients if pk in finished]
    # Uploads go to patients the load plan never visits, each a clip no earlier run sent.
    site_id = Patient.objects.get(pk=patients[0][0]).site_id
    spare = list(
        Patient.objects.filter(site_id=site_id)
        .exclude(pk__in=[pk for pk, _ in plan["patients"]])
        .values_list("pk", flat=True)[:500]
    )
    seeds = iter(range(time.time_ns() % 2**31, 2**32))

    def upload(_pk, _search):
        seed = next(seeds)
        return client.post(
            "/api/v1/recordings/",
            {"patient": str(spare[seed % len(spare)]), "kind": "cough", "symptoms": "{}",
             "file": SimpleUploadedFile("cough.wav", clip(seed), content_type="audio/wav")},
            HTTP_ACCEPT="application/json",
        )  # fmt: skip

    steps = {
        "baseline /healthz": lambda pk, search: client.get("/healthz"),
        "home": lambda pk, search: client.get("/"),
        "patient search": lambda pk, search: client.post("/patients/", {"q": search}, follow=True),
        "patient page": lambda pk, search: client.get(f"/patients/{pk}/"),
        "api: pending results": lambda pk, search: client.get(f"/api/v1/patients/{pk}/pending/"),
        "api: upload": upload,
        "result card": lambda pk, search: client.get(f"/diagnostics/{finished[pk]}/card/"),
        "result page": lambda pk, search: client.get(f"/diagnostics/{finished[pk]}/"),
    }
    return steps, patients


def measure(name: str, step, patients: list) -> dict:
    for pk, search in patients[:3]:  # templates compiled, connections open
        response = step(pk, search)
        if response.status_code not in (200, 201, 202):
            raise SystemExit(f"{name}: status {response.status_code} {response.content[:200]!r}")
    cpu, wall = [], []
    postgres_before = postgres_cpu_s()
    for pk, search in patients[3:]:
        started_cpu, started = time.process_time(), time.perf_counter()
        step(pk, search)
        wall.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)
    n = len(cpu)
    return {
        "cpu": sum(cpu) / n * 1000,
        "cpu_p50": statistics.median(cpu) * 1000,
        "postgres": (postgres_cpu_s() - postgres_before) / n * 1000,
        "wall_p50": statistics.median(wall) * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--visits", type=int, default=60, help="patients visited per step")
    args = parser.parse_args()
    require_services()
    if not PLAN_FILE.exists():
        raise SystemExit(f"{PLAN_FILE} is missing: run bench/load.py first (it seeds and plans)")
    setup()
    steps, patients = visit_steps(json.loads(PLAN_FILE.read_text()), args.visits)
    print(f"machine: {machine()}; {len(patients) - 3} visits a step, load average"
          f" {' '.join(f'{x:.1f}' for x in os.getloadavg()[:2])}")  # fmt: skip
    print(f"    {'step':24s} {'CPU mean':>9s} {'CPU p50':>8s} {'postgres':>9s} {'wall p50':>9s}")
    visit = {"cpu": 0.0, "postgres": 0.0}
    for name, step in steps.items():
        row = measure(name, step, patients)
        if name != "baseline /healthz":
            visit["cpu"] += row["cpu"]
            visit["postgres"] += row["postgres"]
        print(f"    {name:24s} {row['cpu']:7.1f}ms {row['cpu_p50']:6.1f}ms"
              f" {row['postgres']:7.1f}ms {row['wall_p50']:7.1f}ms", flush=True)  # fmt: skip
    print(f"    a visit (the steps above but the baseline): this process {visit['cpu']:.0f} ms of"
          f" CPU, PostgreSQL {visit['postgres']:.0f} ms")  # fmt: skip


if __name__ == "__main__":
    main()
