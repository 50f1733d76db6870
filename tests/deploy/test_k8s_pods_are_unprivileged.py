"""Every pod of the portal runs as the image's non-root user, without privileges, on a read-only
root file system (the namespace enforces the "restricted" Pod Security Standard)."""

from tests.deploy.conftest import of_kind
from tests.deploy.kustomize import containers, pod_spec


def test_every_pod_runs_as_a_user_that_is_not_root(production):
    workloads = of_kind(production, "Deployment") + of_kind(production, "Job")
    for workload in workloads:
        security = pod_spec(workload)["securityContext"]

        assert security["runAsNonRoot"] is True, workload["metadata"]["name"]
        assert security["runAsUser"] != 0, workload["metadata"]["name"]


def test_no_container_can_gain_privileges_or_write_its_image(production):
    for container in containers(production.values()):
        security = container["securityContext"]

        assert security["allowPrivilegeEscalation"] is False, container["name"]
        assert security["readOnlyRootFilesystem"] is True, container["name"]
        assert security["capabilities"]["drop"] == ["ALL"], container["name"]


def test_the_namespace_enforces_the_restricted_pod_security_standard(production):
    labels = production["Namespace", "portal"]["metadata"]["labels"]

    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
