"""Shared pieces of the deployment checks: the deploy/ folder, YAML documents, promtool.

Containers and clusters cannot run here, so the image, compose file and manifests are checked as
files: parsed, rendered and validated against the Kubernetes schemas offline.
"""

import os
import shutil
from pathlib import Path

import pytest
import yaml

# The inference tests' fixtures (a tiny trained model in production, a worker's environment),
# for the test that runs a recording through real processes.
from tests.diagnostics.conftest import (  # noqa: F401
    empty_broker,
    fault_dir,
    production_model,
    tiny_artifact,
    worker_env,
)
from tests.processes import ROOT

DEPLOY = ROOT / "deploy"


def load_documents(path: Path) -> list[dict]:
    """Every non-empty YAML document of a file."""
    with path.open() as handle:
        return [doc for doc in yaml.safe_load_all(handle) if doc]


def required_tool(name: str) -> str:
    """The path of a command-line tool; without it skip, except with CI=true, where it fails."""
    path = shutil.which(name)
    if path:
        return path
    reason = f"{name} is not installed: apt-get install -y prometheus"
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def promtool() -> str:
    return required_tool("promtool")


@pytest.fixture(scope="session")
def production() -> dict[tuple[str, str], dict]:
    """The production overlay rendered, by (kind, name)."""
    from tests.deploy.kustomize import render

    resources = render(DEPLOY / "k8s" / "overlays" / "production")
    return {(r["kind"], r["metadata"]["name"]): r for r in resources}


def of_kind(resources: dict, kind: str) -> list[dict]:
    return [resource for (k, _), resource in resources.items() if k == kind]


def main_container(workload: dict) -> dict:
    (container,) = workload["spec"]["template"]["spec"]["containers"]
    return container
