"""deploy/compose.yaml, checked as a file (containers cannot start here): every service has an
image, the portal's processes load the production settings from their environment, Redis keeps
and never evicts messages, every queue has a worker, and what it mounts into Prometheus and
Grafana exists and fits together."""

import re
import subprocess
import sys

import pytest
import yaml
from django.conf import settings

from tests.deploy.conftest import DEPLOY
from tests.processes import ROOT

COMPOSE = DEPLOY / "compose.yaml"


@pytest.fixture(scope="module")
def services() -> dict:
    return yaml.safe_load(COMPOSE.read_text())["services"]


def portal_services(services) -> dict:
    image = services["web"]["image"]
    return {name: s for name, s in services.items() if s.get("image") == image}


def load_settings(environment: dict, tmp_path) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin", "VAR_DIR": str(tmp_path), **environment}
    env["DJANGO_SETTINGS_MODULE"] = "portal.settings"
    code = "import django; django.setup(); from django.conf import settings; print(settings.DJANGO_ENV)"
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True
    )


def test_every_service_has_an_image_and_the_portal_builds_its_own(services):
    assert all(service.get("image") for service in services.values())
    portal = portal_services(services)
    assert set(portal) >= {"web", "inference", "worker", "beat", "migrate"}
    for service in portal.values():
        assert service["build"]["context"] == ".."
        assert (
            COMPOSE.parent / service["build"]["context"] / service["build"]["dockerfile"]
        ).is_file()


def test_every_portal_process_loads_the_production_settings_from_its_environment(
    services, tmp_path
):
    for name, service in portal_services(services).items():
        environment = {key: str(value) for key, value in service["environment"].items()}
        result = load_settings(environment, tmp_path)

        assert environment["DJANGO_ENV"] == "production", name
        assert result.returncode == 0 and result.stdout.strip() == "production", result.stderr

    del environment["SECRET_KEY"]
    assert "SECRET_KEY must be set" in load_settings(environment, tmp_path).stderr


def test_redis_keeps_messages_on_disk_and_never_evicts_them(services):
    command = " ".join(services["redis"]["command"])

    assert "--appendonly yes" in command
    assert "--maxmemory-policy noeviction" in command
    assert any(volume.endswith(":/data") for volume in services["redis"]["volumes"])


def test_every_celery_queue_has_a_worker(services):
    queues = set()
    for service in services.values():
        command = service.get("command", [])
        if "worker" in command and "-Q" in command:
            queues |= set(command[command.index("-Q") + 1].split(","))

    assert set(settings.CELERY_TASK_QUEUES_NAMES) <= queues


def test_every_file_mounted_into_a_service_exists(services):
    mounted = [
        volume.split(":")[0]
        for service in services.values()
        for volume in service.get("volumes", [])
        if volume.startswith(".")
    ]

    assert len(mounted) >= 5
    assert [path for path in mounted if not (COMPOSE.parent / path).is_file()] == []


def test_prometheus_scrapes_the_jobs_the_rules_select_on_at_the_ports_processes_serve(services):
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    targets = {
        job["job_name"]: target
        for job in config["scrape_configs"]
        for target in job["static_configs"][0]["targets"]
    }
    rules = (DEPLOY / "prometheus" / "rules.yml").read_text()

    assert set(re.findall(r'job="(\w+)"', rules)) == set(targets)
    for job, target in targets.items():
        host, port = target.split(":")
        environment = services[host]["environment"]
        prefix = "WEB" if job == "web" else "CELERY"
        assert port == environment[f"{prefix}_METRICS_PORT"], job
        assert environment[f"{prefix}_METRICS_ADDR"] == "0.0.0.0"  # noqa: S104 - its container
    assert config["rule_files"] == ["/etc/prometheus/rules.yml"]
    assert (
        "./prometheus/rules.yml:/etc/prometheus/rules.yml:ro" in services["prometheus"]["volumes"]
    )


def test_grafana_loads_the_dashboard_from_where_compose_mounts_it(services):
    provider = yaml.safe_load((DEPLOY / "grafana" / "provisioning" / "dashboards.yml").read_text())
    datasource = yaml.safe_load(
        (DEPLOY / "grafana" / "provisioning" / "datasources.yml").read_text()
    )
    mounts = dict(volume.split(":")[:2] for volume in services["grafana"]["volumes"])

    dashboard_dir = provider["providers"][0]["options"]["path"]
    assert mounts["./grafana/dashboard.json"].rsplit("/", 1)[0] == dashboard_dir
    assert datasource["datasources"][0]["url"] == "http://prometheus:9090"
