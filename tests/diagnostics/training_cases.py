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
