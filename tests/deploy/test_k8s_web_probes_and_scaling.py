"""The web Deployment: routed to only when /readyz says its dependencies answer, restarted when
/healthz stops answering, scaled by an autoscaler and kept through node drains."""

from tests.deploy.conftest import main_container, of_kind


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


def test_web_pods_have_time_to_drain_and_finish_requests_before_they_are_killed(production):
    """On SIGTERM a web process drains for WEB_DRAIN_DELAY_S, then finishes what is in flight
    within uvicorn's graceful timeout (docs/deploy.md, "Rolling restarts"): the pod's grace period
    must hold both, or the kubelet kills requests in flight."""
    (config,) = of_kind(production, "ConfigMap")
    pod = production["Deployment", "web"]["spec"]["template"]["spec"]
    command = main_container(production["Deployment", "web"])["command"]
    graceful = float(command[command.index("--timeout-graceful-shutdown") + 1])
    drain = float(config["data"]["WEB_DRAIN_DELAY_S"])

    assert drain >= 5  # ingress-nginx learns of a terminating pod a few seconds late
    assert pod["terminationGracePeriodSeconds"] >= drain + graceful + 5
    assert "preStop" not in main_container(production["Deployment", "web"]).get("lifecycle", {})
