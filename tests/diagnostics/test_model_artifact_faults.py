"""A corrupt or missing model artifact: diagnostics fail with a message a clinician can act on, the
worker stays up and acknowledges (no crash loop), the health check says why, and once a good model
is promoted Retry works."""

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.db import transaction

from diagnostics import registry
from diagnostics.failures import FAILURE_MESSAGES
from diagnostics.models import DiagnosticStatus, ModelStatus
from tests.diagnostics.inference_steps import (
    all_finished,
    broker_drained,
    inference_worker,
    submit,
    wait_for,
)
from tests.factories import PatientFactory

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def check_inference(capsys) -> tuple[int, str]:
    """``manage.py check_inference``: (exit status, what it printed)."""
    try:
        call_command("check_inference")
        status = 0
    except SystemExit as exit_:
        status = exit_.code
    return status, capsys.readouterr().out


def test_a_broken_artifact_fails_diagnostics_clearly_and_retry_works_after_a_good_promotion(
    client, clinician, site, production_model, second_artifact, worker_env,
    settings, tmp_path, capsys,
):  # fmt: skip
    settings.MODEL_CACHE_DIR = tmp_path / "check-cache"
    artifact = production_model.artifact
    patient = PatientFactory(site=site)
    worker = inference_worker(worker_env, tmp_path)
    try:
        default_storage.delete(artifact)  # stored again the way the storage stores (encrypted)
        default_storage.save(artifact, ContentFile(b"PK\x03\x04 no longer the promoted model"))
        with transaction.atomic():
            corrupt = submit(patient, clinician, seed=130)
        wait_for(
            all_finished(corrupt), within=90, what="failed on the corrupt model", logs=[worker]
        )
        corrupt_check = check_inference(capsys)

        default_storage.delete(artifact)
        with transaction.atomic():
            missing = submit(patient, clinician, seed=131)
        wait_for(
            all_finished(missing), within=60, what="failed on the missing model", logs=[worker]
        )
        missing_check = check_inference(capsys)
        wait_for(broker_drained(), within=30, what="failures acknowledged", logs=[worker])
        for diagnostic in (corrupt, missing):
            diagnostic.refresh_from_db()
        failures = [(d.status, d.error, d.attempts) for d in (corrupt, missing)]

        good = registry.register_model_version(
            artifact_path=second_artifact, status=ModelStatus.PRODUCTION
        )
        fixed_check = check_inference(capsys)
        client.force_login(clinician)
        retries = [client.post(f"/api/v1/diagnostics/{d.pk}/retry/") for d in (corrupt, missing)]
        wait_for(all_finished(corrupt, missing), within=60, what="retried", logs=[worker])
        assert worker.proc.poll() is None
    finally:
        worker.stop()

    assert failures == [(DiagnosticStatus.FAILED, FAILURE_MESSAGES["model_unavailable"], 1)] * 2
    assert "use Retry once they have fixed it" in FAILURE_MESSAGES["model_unavailable"]
    assert corrupt_check[0] == 1
    assert "not ready: model tiny-test-model 1 cannot be loaded" in corrupt_check[1]
    assert "sha256" in corrupt_check[1]  # why: it is not the artifact that was registered
    assert missing_check[0] == 1 and "cannot be read" in missing_check[1]
    assert fixed_check == (0, "ready: model tiny-test-model 2\n")
    assert "model artifact unusable" in worker.output()
    assert [r.status_code for r in retries] == [202, 202]
    for diagnostic in (corrupt, missing):
        diagnostic.refresh_from_db()
        assert diagnostic.status == DiagnosticStatus.SUCCEEDED
        assert diagnostic.model_version == good and diagnostic.error == ""
        assert diagnostic.attempts == 1  # the failure was not redelivered: no crash loop
