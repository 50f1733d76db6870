"""The web Deployment: routed to only when /readyz says its dependencies answer, restarted when
/healthz stops answering, scaled by an autoscaler and kept through node drains."""

from tests.deploy.conftest import main_container


def test_web_is_ready_on_readyz_and_alive_on_healthz(production):
    web = main_container(production["Deployment", "web"])

    assert web["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert web["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert web["command"][:2] == ["uvicorn", "portal.asgi:application"]


def test_web_pods_accept_the_host_the_probes_and_prometheus_ask_for(production):
    """The kubelet and Prometheus ask for the pod's address; Django refuses hosts not allowed."""
    env = {item["name"]: item for item in main_container(production["Deployment", "web"])["env"]}

    assert env["POD_IP"]["valueFrom"]["fieldRef"]["fieldPath"] == "status.podIP"
    assert env["ALLOWED_HOSTS"]["value"].split(",")[:2] == ["$(ALLOWED_HOSTS)", "$(POD_IP)"]


def test_an_autoscaler_owns_the_web_replica_count(production):
    hpa = production["HorizontalPodAutoscaler", "web"]

    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment",
                                             "name": "web"}  # fmt: skip
    assert hpa["spec"]["minReplicas"] >= 2
    assert "replicas" not in production["Deployment", "web"]["spec"], "would fight the autoscaler"


def test_a_disruption_budget_keeps_web_pods_through_drains(production):
    budget = production["PodDisruptionBudget", "web"]
    web_labels = production["Deployment", "web"]["spec"]["template"]["metadata"]["labels"]

    assert budget["spec"]["minAvailable"] >= 1
    assert budget["spec"]["selector"]["matchLabels"].items() <= web_labels.items()
