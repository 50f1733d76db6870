"""Reviewed cases to train on: consenting patients with SYNTHETIC recordings, each stored through
the upload path and reviewed by a clinician with its true label; and cases training must leave out."""

from django.core.files.base import ContentFile
from django.utils import timezone

from diagnostics.ml.synth import generate_dataset, to_wav_bytes
from diagnostics.models import Diagnostic, Label
from diagnostics.services import submit_recording
from tests.factories import PatientFactory, consenting


def _store(patient, sound, name: str) -> Diagnostic:
    submission = submit_recording(
        patient=patient, file=ContentFile(to_wav_bytes(sound), name=name), kind=sound.kind,
        symptoms={}, actor=None, original_name=name, analyse=False,
        kind_minimum=False,  # synthetic breathing sounds last 1-6 s, as an imported set's may
    )  # fmt: skip
    return submission.diagnostic


def review(diagnostic: Diagnostic, label: str, reviewer) -> None:
    Diagnostic.objects.filter(pk=diagnostic.pk).update(
        review_label=label, reviewed_by=reviewer, reviewed_at=timezone.now()
    )


def reviewed_cases(*, site, reviewer, n_patients: int, per_patient: int = 2, seed: int = 11):
    """``n_patients`` consenting patients, each with ``per_patient`` recordings of one label
    (alternating by patient), reviewed by ``reviewer``: the diagnostics, in order."""
    sounds = generate_dataset(n_patients * per_patient * 2, seed=seed)
    by_label = {label: [s for s in sounds if s.label == label] for label in Label.values}
    diagnostics = []
    for p in range(n_patients):
        label = (Label.HEALTHY, Label.ANOMALY)[p % 2]
        patient = consenting(site=site, sex=("female", "male")[(p // 2) % 2])
        for r in range(per_patient):
            diagnostic = _store(patient, by_label[label].pop(), f"p{p}-{r}.wav")
            review(diagnostic, label, reviewer)
            diagnostics.append(diagnostic)
    return diagnostics


def cases_training_leaves_out(*, site, reviewer, seed: int = 12) -> list[Diagnostic]:
    """A non-consenting patient's reviewed case, an inconclusive review and an unreviewed one."""
    sounds = generate_dataset(3, seed=seed)
    refused = _store(PatientFactory(site=site, research_consent=False), sounds[0], "no.wav")
    review(refused, Label.ANOMALY, reviewer)
    patient = consenting(site=site)
    inconclusive = _store(patient, sounds[1], "inconclusive.wav")
    review(inconclusive, Label.INCONCLUSIVE, reviewer)
    return [refused, inconclusive, _store(patient, sounds[2], "unreviewed.wav")]


def trained_candidate(*, site, reviewer):
    """A candidate trained from reviews (40 patients, 4 epochs: about 20 s) and its run."""
    from diagnostics import training, training_worker
    from diagnostics.models import TrainingStatus

    reviewed_cases(site=site, reviewer=reviewer, n_patients=40)
    params = {"epochs": 4, "batch_size": 8, "clip_seconds": 5.0, "seed": 5}
    run = training.start_training_run(actor=reviewer, parameters=params, enqueue=False)
    run = training_worker.execute_training_run(run_id=run.pk)
    assert run.status == TrainingStatus.SUCCEEDED, run.log
    assert run.evaluation["roc_auc"] > 0.6  # learnt something, so its inverse is clearly worse
    return run


def inverted_candidate(run, folder):
    """``run``'s model with its labels swapped, on the same evaluation set: a deliberately worse
    model (every score inverted), registered as a candidate with a run of its own."""
    from dataclasses import replace

    from diagnostics import registry
    from diagnostics.ml.model import save_artifact
    from diagnostics.model_cache import get_model
    from diagnostics.models import TrainingRun, TrainingStatus

    loaded = get_model(run.model_version)
    metadata = replace(loaded.metadata, version="inverted", labels=("anomaly", "healthy"))
    save_artifact(loaded.model, metadata, folder / "inverted.zip")
    version = registry.register_model_version(artifact_path=folder / "inverted.zip")
    version.evaluation = {"evaluation_set": run.model_version.evaluation["evaluation_set"]}
    version.save(update_fields=["evaluation"])
    TrainingRun.objects.create(snapshot=run.snapshot, model_version=version,
                               status=TrainingStatus.SUCCEEDED)  # fmt: skip
    return version
