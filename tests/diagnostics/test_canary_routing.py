"""A canary model version serves a fixed share of diagnostics chosen by id; every diagnostic records
the version that analysed it; a promotion takes effect in a running worker without a restart."""

import pytest
from django.core.management import CommandError, call_command
from django.db import transaction

from diagnostics import registry
from diagnostics.models import DiagnosticStatus, ModelStatus
from tests.diagnostics.inference_steps import (
    all_finished,
    inference_worker,
    log_events,
    submit,
    wait_for,
)
from tests.factories import PatientFactory
from tests.factories_clinical import ModelVersionFactory


@pytest.mark.django_db
def test_the_canary_share_is_a_stable_set_of_ids_that_grows_with_the_fraction():
    production = ModelVersionFactory(status=ModelStatus.PRODUCTION)
    canary = registry.start_canary(version=ModelVersionFactory(), fraction=0.25)
    ids = range(1, 4001)

    def routed() -> set[int]:
        return {
            i
            for i in ids
            if registry.version_for(i, production=production, canary=canary) == canary
        }

    quarter = routed()
    assert quarter == routed()  # the same ids every time, in every process (no salted hash)
    assert 0.22 < len(quarter) / len(ids) < 0.28
    canary.canary_fraction = 0.5
    assert quarter < routed()  # raising the fraction only adds diagnostics to the canary
    some_canary_id, some_production_id = min(quarter), min(set(ids) - quarter)
    assert registry.version_for(some_canary_id) == canary  # read from the registry itself
    assert registry.version_for(some_production_id) == production


@pytest.mark.django_db
def test_an_operator_starts_a_canary_and_a_new_one_replaces_the_old(capsys):
    production = ModelVersionFactory(status=ModelStatus.PRODUCTION)
    first, second = ModelVersionFactory(), ModelVersionFactory()

    call_command("start_canary", first.name, first.version, fraction=0.2)
    call_command("start_canary", second.name, second.version, fraction=0.05)
    with pytest.raises(CommandError, match="only a candidate can be a canary"):
        call_command("start_canary", production.name, production.version)

    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, first.canary_fraction) == (ModelStatus.CANDIDATE, 0)
    assert (second.status, second.canary_fraction) == (ModelStatus.CANARY, 0.05)
    assert "now analyses 5% of new diagnostics" in capsys.readouterr().out


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_each_diagnostic_records_its_model_and_a_promotion_reaches_the_running_worker(
    clinician, site, production_model, second_artifact, worker_env, tmp_path
):
    patient = PatientFactory(site=site)
    candidate = registry.register_model_version(artifact_path=second_artifact)
    with transaction.atomic():
        diagnostics = [submit(patient, clinician, seed=110 + i) for i in range(6)]
        # A fraction that sends exactly the three lowest-bucket diagnostics to the canary.
        buckets = sorted(registry.canary_bucket(d.pk) for d in diagnostics)
        canary = registry.start_canary(version=candidate, fraction=(buckets[2] + buckets[3]) / 2)
    expected = {d.pk: registry.version_for(d.pk) for d in diagnostics}
    worker = inference_worker(worker_env, tmp_path)
    try:
        wait_for(all_finished(*diagnostics), within=90, what="all analysed", logs=[worker])
        registry.promote(version=canary)
        with transaction.atomic():
            later = [submit(patient, clinician, seed=120 + i) for i in range(2)]
        wait_for(all_finished(*later), within=60, what="analysed after promotion", logs=[worker])
        assert worker.proc.poll() is None
    finally:
        worker.stop()

    for diagnostic in diagnostics:
        diagnostic.refresh_from_db()
        assert diagnostic.status == DiagnosticStatus.SUCCEEDED
        assert diagnostic.model_version == expected[diagnostic.pk]
    assert sorted(v.pk for v in expected.values()) == [production_model.pk] * 3 + [canary.pk] * 3
    for diagnostic in later:
        diagnostic.refresh_from_db()
        assert diagnostic.status == DiagnosticStatus.SUCCEEDED
        assert diagnostic.model_version == canary
    # The same process swapped models: the old one was dropped and the new one not loaded again.
    assert worker.output().count(" ready.") == 1
    loaded = [e["model_version"] for e in log_events(worker, message="model loaded")]
    assert sorted(loaded) == ["tiny-test-model 1", "tiny-test-model 2"]
    unloaded = [e["model_version_id"] for e in log_events(worker, message="model unloaded")]
    assert unloaded == [production_model.pk]
