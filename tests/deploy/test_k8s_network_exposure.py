"""Only the web pods can be reached from outside, through the ingress, which upgrades /ws/ to
WebSockets and closes /metrics; the metrics ports are open to Prometheus only."""

from tests.deploy.conftest import of_kind

INGRESS_CONTROLLER = {"kubernetes.io/metadata.name": "ingress-nginx"}
PROMETHEUS = {"kubernetes.io/metadata.name": "monitoring"}


def ingress_paths(resources) -> dict[str, tuple[dict, dict]]:
    """Each Ingress path: (its backend, the annotations of its Ingress)."""
    paths = {}
    for ingress in of_kind(resources, "Ingress"):
        for rule in ingress["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                annotations = ingress["metadata"].get("annotations", {})
                paths[path["path"]] = (path["backend"], annotations)
    return paths


def test_pods_accept_no_traffic_that_a_policy_does_not_allow(production):
    deny = production["NetworkPolicy", "default-deny-ingress"]

    assert deny["spec"] == {"podSelector": {}, "policyTypes": ["Ingress"]}


def test_only_the_web_pods_accept_traffic_from_the_ingress_controller(production):
    opened_to_controller = []
    for policy in of_kind(production, "NetworkPolicy"):
        for rule in policy["spec"].get("ingress", []):
            peers = [peer.get("namespaceSelector", {}).get("matchLabels") for peer in rule["from"]]
            if INGRESS_CONTROLLER in peers:
                opened_to_controller.append(policy["spec"]["podSelector"]["matchLabels"])
            # Nothing is opened to every address or every namespace.
            assert all(peer.get("namespaceSelector") for peer in rule["from"]), policy
            assert all("ipBlock" not in peer for peer in rule["from"]), policy

    assert opened_to_controller == [
        {"app.kubernetes.io/name": "portal", "app.kubernetes.io/component": "web"}
    ]


def test_metrics_ports_of_the_workers_are_open_to_prometheus_only(production):
    policy = production["NetworkPolicy", "worker-metrics-from-prometheus"]
    (rule,) = policy["spec"]["ingress"]

    assert [peer["namespaceSelector"]["matchLabels"] for peer in rule["from"]] == [PROMETHEUS]
    assert {port["port"] for port in rule["ports"]} == {9101, 9102}


def test_every_ingress_path_leads_to_the_web_service(production):
    backends = {backend["service"]["name"] for backend, _ in ingress_paths(production).values()}

    assert backends == {"web"}


def test_websockets_under_ws_are_upgraded_and_kept_open(production):
    backend, annotations = ingress_paths(production)["/ws/"]

    assert backend["service"]["name"] == "web"

    assert annotations["nginx.ingress.kubernetes.io/proxy-http-version"] == "1.1"
    assert int(annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"]) >= 3600


def test_metrics_are_closed_to_everyone_outside(production):
    _, annotations = ingress_paths(production)["/metrics"]

    assert annotations["nginx.ingress.kubernetes.io/whitelist-source-range"] == "127.0.0.1/32"
