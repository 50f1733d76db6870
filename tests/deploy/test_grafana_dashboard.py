"""deploy/grafana/dashboard.json: the panels operators need, each on the provisioned Prometheus
data source, and the derived ones saying how they are derived."""

import json

import pytest
import yaml

from tests.deploy.conftest import DEPLOY

REQUIRED_PANELS = {
    "Request rate",
    "Page and API latency",
    "Upload to result",
    "Inference backlog",
    "Expected wait",
    "Inference queue wait",
    "Inference clips/s",
    "Batch fill",
    "GPU busy",
    "Errors by code",
    "Database use",
}


@pytest.fixture(scope="module")
def panels() -> dict[str, dict]:
    dashboard = json.loads((DEPLOY / "grafana" / "dashboard.json").read_text())
    return {panel["title"]: panel for panel in dashboard["panels"]}


def test_the_dashboard_has_a_panel_for_each_thing_operators_watch(panels):
    assert set(panels) >= REQUIRED_PANELS
    assert all(panel["targets"] and panel["description"] for panel in panels.values())


def test_every_panel_queries_the_provisioned_prometheus(panels):
    provisioned = yaml.safe_load(
        (DEPLOY / "grafana" / "provisioning" / "datasources.yml").read_text()
    )
    uid = provisioned["datasources"][0]["uid"]

    for panel in panels.values():
        assert panel["datasource"] == {"type": "prometheus", "uid": uid}, panel["title"]
        assert all(target["datasource"]["uid"] == uid for target in panel["targets"])


def test_the_gpu_busy_fraction_is_derived_from_model_time_and_says_so(panels):
    gpu = panels["GPU busy"]

    assert "rate(portal_inference_seconds_sum" in gpu["targets"][0]["expr"]
    assert "No GPU metric is exported" in gpu["description"]
    assert gpu["fieldConfig"]["defaults"]["unit"] == "percentunit"


def test_the_database_panel_says_pool_occupancy_is_not_exported(panels):
    description = panels["Database use"]["description"]

    assert "Neither django-prometheus nor the portal exports the pool's occupancy" in description
