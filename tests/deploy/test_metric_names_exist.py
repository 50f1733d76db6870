"""Every metric the alert rules and the dashboard use is served by the job they read it from:
a real web process, inference worker and maintenance worker are started on the test database, a
recording goes from upload to result and the sweeper runs once, then each one's metrics are read.

Labelled metrics appear only once observed, and the inference metrics only once a diagnostic has
run in the worker (the module is imported on first use), hence the upload."""

import re
import urllib.request

import httpx
import pytest
import yaml

from diagnostics.models import Diagnostic
from diagnostics.tasks import sweep_stuck_diagnostics
from tests.deploy.conftest import DEPLOY
from tests.deploy.promql import selected_metrics
from tests.diagnostics.inference_steps import all_finished, inference_worker, wait_for
from tests.factories import PatientFactory
from tests.media_assets.uploading import cough_wav
from tests.processes import asgi_server, celery_worker, free_port

pytestmark = pytest.mark.slow
SYNTHESISED = {"up"}  # Prometheus makes these for every target; no process serves them


def rules_and_dashboard_expressions() -> list[str]:
    import json

    rules = yaml.safe_load((DEPLOY / "prometheus" / "rules.yml").read_text())
    dashboard = json.loads((DEPLOY / "grafana" / "dashboard.json").read_text())
    return [rule["expr"] for group in rules["groups"] for rule in group["rules"]] + [
        target["expr"] for panel in dashboard["panels"] for target in panel["targets"]
    ]


def recorded_names() -> set[str]:
    rules = yaml.safe_load((DEPLOY / "prometheus" / "rules.yml").read_text())
    return {
        rule["record"] for group in rules["groups"] for rule in group["rules"] if "record" in rule
    }


def served_names(exposition: str) -> set[str]:
    """Names in a /metrics page: its samples, and the declared families, observed or not."""
    names = {line.split("{")[0].split(" ")[0] for line in exposition.splitlines()
             if line and not line.startswith("#")}  # fmt: skip
    for name, kind in re.findall(r"^# TYPE (\S+) (\S+)$", exposition, re.M):
        names.add(name)
        if kind == "histogram":
            names |= {f"{name}_bucket", f"{name}_sum", f"{name}_count"}
        elif kind == "counter":
            names.add(f"{name.removesuffix('_total')}_total")
    return names


def scrape(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read().decode()


def sweeper_gauge_served(url: str) -> bool:
    try:
        return "\nportal_inference_queue_length " in scrape(url)
    except OSError:  # the pool process has not bound its port yet
        return False


def test_the_expression_parser_finds_each_selector_and_its_job():
    expr = (
        'sum by (le, view) (rate(a_bucket{job="web",view!~"x|y"}[5m])) / on (job) b'
        ' and c{job=~"web|worker"} > 0.5 and histogram_quantile(0.95, rate(d[$__rate_interval]))'
    )

    assert selected_metrics(expr) == {("a_bucket", "web"), ("b", None), ("c", "web"),
                                      ("c", "worker"), ("d", None)}  # fmt: skip


def test_every_metric_of_the_rules_and_dashboard_is_served_by_its_job(
    client, clinician, site, production_model, worker_env, tmp_path
):
    inference_port, worker_port = free_port(), free_port()
    web = asgi_server(worker_env, tmp_path)
    processes = [web]
    try:
        processes.append(inference_worker(
            worker_env | {"CELERY_METRICS_PORT": str(inference_port)}, tmp_path, app="portal"
        ))  # fmt: skip
        processes.append(celery_worker(
            worker_env | {"CELERY_METRICS_PORT": str(worker_port)}, tmp_path,
            queues="default,maintenance", name="maintenance",
        ))  # fmt: skip
        patient = PatientFactory(site=site)
        with httpx.Client(base_url=web.url, timeout=60) as http:
            token = http.post(
                "/api/v1/auth/token/",
                json={"username": clinician.username, "password": "a-long-test-password"},
            ).json()["access"]
            response = http.post(
                "/api/v1/recordings/",
                headers={"Authorization": f"Bearer {token}"},
                data={"patient": str(patient.pk), "kind": "cough"},
                files={"file": ("c.wav", cough_wav(seed=83), "audio/wav")},
            )
        assert response.status_code == 201, response.text
        diagnostic = Diagnostic.objects.get(recording__patient=patient)
        wait_for(all_finished(diagnostic), within=120, what="the result", logs=processes)
        sweep_stuck_diagnostics.delay()
        worker_url = f"http://127.0.0.1:{worker_port}/metrics"
        wait_for(lambda: sweeper_gauge_served(worker_url), within=60,
                 what="the sweeper's gauge", logs=processes)  # fmt: skip
        served = {
            "web": served_names(scrape(f"{web.url}/metrics")),
            "inference": served_names(scrape(f"http://127.0.0.1:{inference_port}/metrics")),
            "worker": served_names(scrape(worker_url)),
        }
    finally:
        for process in reversed(processes):
            process.stop()

    used = set()
    for expr in rules_and_dashboard_expressions():
        used |= selected_metrics(expr)
    used = {(name, job) for name, job in used if name not in recorded_names() | SYNTHESISED}
    missing = sorted(
        (name, job) for name, job in used
        if not (name in served[job] if job else any(name in names for names in served.values()))
    )  # fmt: skip

    assert len(used) > 10
    assert missing == []
