"""The Kubernetes manifests render (base and production overlay) and every object is valid
against the Kubernetes API schemas, checked offline with kubernetes-validate's own copy."""

import shutil
import subprocess

import kubernetes_validate
import pytest
import yaml

from tests.deploy.conftest import DEPLOY, load_documents
from tests.deploy.kustomize import render

# The oldest Kubernetes release the manifests are meant for (autoscaling/v2, policy/v1 and
# batch/v1 ttlSecondsAfterFinished are all older).
KUBERNETES_VERSION = "1.29.0"
KUSTOMIZATIONS = [DEPLOY / "k8s" / "base", DEPLOY / "k8s" / "overlays" / "production"]


def schema_errors(resource: dict) -> str | None:
    try:
        kubernetes_validate.validate(resource, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as error:
        return f"{resource['kind']}/{resource['metadata']['name']}: {error.message} at {list(error.path)}"
    return None


@pytest.mark.parametrize("kustomization", KUSTOMIZATIONS, ids=lambda path: path.name)
def test_every_rendered_object_is_valid_against_the_kubernetes_schemas(kustomization):
    resources = render(kustomization)

    assert len(resources) > 10
    assert [error for error in map(schema_errors, resources) if error] == []


def test_the_example_secret_is_valid_against_the_kubernetes_schemas():
    (secret,) = load_documents(DEPLOY / "k8s" / "base" / "secret.example.yaml")

    assert schema_errors(secret) is None


def test_the_schema_check_rejects_a_misspelt_field_and_a_wrong_type():
    """The check is not vacuous: strict schemas refuse what the API server would."""
    labels = {"app": "probe"}
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "probe"},
        "spec": {
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "probe", "image": "portal"}]},
            },
        },
    }
    assert schema_errors(deployment) is None

    deployment["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}
    assert "readinesProbe" in schema_errors(deployment)
    del deployment["spec"]["template"]["spec"]["containers"][0]["readinesProbe"]
    deployment["spec"]["replicas"] = "two"
    assert schema_errors(deployment) is not None


@pytest.mark.parametrize("kustomization", KUSTOMIZATIONS, ids=lambda path: path.name)
def test_the_python_rendering_matches_kubectl_kustomize_where_kubectl_is_installed(kustomization):
    kubectl = shutil.which("kubectl")
    if not kubectl:
        pytest.skip("kubectl is not installed: the Python rendering is not cross-checked")
    result = subprocess.run(
        [kubectl, "kustomize", str(kustomization)], capture_output=True, text=True, check=True
    )

    def by_name(resources):
        return {(r["kind"], r["metadata"]["name"]): r for r in resources}

    assert by_name(render(kustomization)) == by_name(yaml.safe_load_all(result.stdout))
