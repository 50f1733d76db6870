"""The inference workers: one process per GPU on GPU nodes, a fixed number of them, the number
docs/deploy.md derives from measured capacity, and no autoscaler."""

import re

from tests.deploy.conftest import DEPLOY, main_container, of_kind
from tests.processes import ROOT


def test_each_inference_pod_is_one_worker_process_on_one_gpu(production):
    inference = production["Deployment", "inference"]
    container = main_container(inference)
    command = " ".join(container["command"])

    assert container["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert "-Q inference" in command
    assert "--concurrency 1" in command and "--prefetch-multiplier 1" in command
    assert container["image"].endswith("-gpu")
    assert inference["spec"]["template"]["spec"]["nodeSelector"]["nvidia.com/gpu.present"] == "true"


def test_the_inference_replica_count_is_fixed_and_the_one_the_docs_derive(production):
    replicas = production["Deployment", "inference"]["spec"]["replicas"]
    docs = (ROOT / "docs" / "deploy.md").read_text()
    comment = (DEPLOY / "k8s" / "base" / "inference.yaml").read_text()

    assert f"**{replicas} inference replicas**" in docs
    assert re.search(rf"= {replicas}\.", comment), "the manifest's comment shows the sum"
    assert "docs/benchmarks.md" in comment and "clips/s" in comment
    targets = [hpa["spec"]["scaleTargetRef"]["name"] for hpa in
               of_kind(production, "HorizontalPodAutoscaler")]  # fmt: skip
    assert "inference" not in targets


def test_inference_metrics_are_served_where_prometheus_can_reach_them(production):
    container = main_container(production["Deployment", "inference"])
    env = {item["name"]: item.get("value") for item in container["env"]}

    assert env["CELERY_METRICS_ADDR"] == "0.0.0.0"  # noqa: S104 - the pod's own address
    assert {"name": "metrics", "containerPort": int(env["CELERY_METRICS_PORT"])} in container[
        "ports"
    ]
