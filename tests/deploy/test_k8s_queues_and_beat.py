"""Every Celery queue has workers in the manifests, and beat runs as exactly one pod."""

from django.conf import settings

from tests.deploy.conftest import main_container, of_kind


def consumed_queues(resources) -> set[str]:
    queues = set()
    for deployment in of_kind(resources, "Deployment"):
        command = main_container(deployment).get("command", [])
        if "worker" in command and "-Q" in command:
            queues |= set(command[command.index("-Q") + 1].split(","))
    return queues


def test_every_celery_queue_is_consumed_by_a_deployment(production):
    assert set(settings.CELERY_TASK_QUEUES_NAMES) <= consumed_queues(production)


def test_default_and_recommender_queues_have_workers_of_their_own(production):
    worker = " ".join(main_container(production["Deployment", "worker"])["command"])
    recommender = " ".join(main_container(production["Deployment", "recommender"])["command"])

    assert "-Q default,maintenance" in worker
    assert "-Q recommender" in recommender


def test_beat_is_one_replica_replaced_by_recreate(production):
    beat = production["Deployment", "beat"]

    assert beat["spec"]["replicas"] == 1
    assert beat["spec"]["strategy"] == {"type": "Recreate"}
    assert main_container(beat)["command"][:4] == ["celery", "-A", "portal", "beat"]
    beats = [d for d in of_kind(production, "Deployment") if "beat" in main_container(d)["command"]]
    assert beats == [beat]
