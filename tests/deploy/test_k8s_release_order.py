"""Migrations run as a Job before the release's processes start: every Deployment's pods wait in
an init container until the database has the release's migrations."""

from tests.deploy.conftest import main_container, of_kind


def test_a_job_applies_the_migrations_and_the_roles(production):
    job = production["Job", "migrate"]
    script = " ".join(main_container(job)["command"])

    assert "python manage.py migrate --noinput" in script
    assert "python manage.py setup_roles" in script
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    assert job["spec"]["ttlSecondsAfterFinished"] > 0, "the next release must be able to create it"


def test_every_deployment_waits_for_the_migrations_before_it_starts(production):
    for deployment in of_kind(production, "Deployment"):
        spec = deployment["spec"]["template"]["spec"]
        init = [c["command"] for c in spec.get("initContainers", [])]
        name = deployment["metadata"]["name"]

        assert ["python", "manage.py", "migrate", "--check"] in init, name
        (container,) = spec["containers"]
        assert spec["initContainers"][0]["image"] == container["image"], name
