"""Importing a public cough data set (COUGHVID, Coswara) as patients of a research site.

The data set becomes one site of its own (code ``coughvid`` or ``coswara``), each subject one
patient (external id ``<data set>:<subject id>``), each recording a recording stored through
``diagnostics.services.submit_recording`` (so it is decoded, checked and normalised exactly as an
upload is) and each data set label the diagnostic's reviewed truth
(``diagnostics.reviews.record_dataset_label``), which is what training reads.

Decisions the docs repeat (docs/model.md, "Bringing real data"):

- Both data sets are released for research under CC BY 4.0, so their patients carry research
  consent, dated at the import; the licence is named in the audit detail of each subject and label.
- Data sets hold no names: a patient's given name is a dash and the family name says which data set
  it came from ("COUGHVID subject"), neither of them a person's name.
- The Patient model needs a birth date: 1 July of the import's year less the data set's age, an
  approximation that makes the portal's age at the recording (the import) the stated age. A
  subject without an age is skipped ("no age").
- By default no analysis is asked for (``analyse=False``): an import of tens of thousands of
  recordings would sit in the inference queue ahead of clinicians' uploads, and training needs the
  labels, not the model's opinion. ``analyse=True`` queues them like uploads, to compare the model
  with the data set's labels; a re-run with it queues those imported without.

Re-running is harmless: a subject is found by its external id, the same bytes for the same patient
are the same recording (``submit_recording``), and the same label is not written again.
"""

from __future__ import annotations

import datetime
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from django.core.files import File
from django.utils import timezone

from diagnostics.ml import datasets
from diagnostics.models import DiagnosticStatus
from diagnostics.reviews import record_dataset_label
from diagnostics.services import request_analysis, submit_recording
from media_assets.audio import AudioRejected
from portal.core.audit import record_event
from portal.core.models import Patient, Sex, Site
from portal.core.services import ExternalIdTaken, create_patient

LICENCE = "CC BY 4.0"
GIVEN_NAME_PLACEHOLDER = "—"  # not a name: data sets hold none


@dataclass(frozen=True)
class Dataset:
    code: str
    title: str
    files: Callable[[Path], list[datasets.LabelledFile]]
    subjects: Callable[[Path], dict[str, datasets.Subject]]
    status_map: dict[str, str]
    # Why a subject with a label-giving status yields no file (the reader's other filters).
    unlisted_reason: str


DATASETS = {
    "coughvid": Dataset(
        "coughvid", "COUGHVID", datasets.coughvid, datasets.coughvid_subjects,
        datasets.COUGHVID_STATUS, "cough_detected below 0.8 or no audio file",
    ),
    "coswara": Dataset(
        "coswara", "Coswara", datasets.coswara, datasets.coswara_subjects,
        datasets.COSWARA_STATUS, "no recording",
    ),
}  # fmt: skip


@dataclass
class ImportReport:
    """What an import did, in counts; the skipped ones by reason."""

    dataset: str
    patients_created: int = 0
    recordings_created: int = 0
    recordings_existing: int = 0
    labels_recorded: int = 0
    analyses_requested: int = 0
    skipped_subjects: Counter = field(default_factory=Counter)
    skipped_recordings: Counter = field(default_factory=Counter)


def import_dataset(
    *, dataset: str, root: Path, analyse: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> ImportReport:  # fmt: skip
    """Import the data set at ``root``; raises ``datasets.DatasetLayoutError`` for a wrong layout."""
    spec = DATASETS[dataset]
    files = spec.files(Path(root))
    subjects = spec.subjects(Path(root))
    report = ImportReport(dataset=dataset)
    _report_unlisted(spec, subjects, {f.subject for f in files}, report)
    site = _research_site(spec)
    patients: dict[str, Patient | None] = {}
    for done, labelled in enumerate(files, start=1):
        subject = subjects.get(labelled.subject)
        if labelled.subject not in patients:
            patients[labelled.subject] = _patient(spec, site, subject, report)
        patient = patients[labelled.subject]
        if patient is None:
            report.skipped_recordings[_why_no_patient(spec, subject)] += 1
        else:
            _import_recording(spec, patient, labelled, subject, analyse=analyse, report=report)
        if progress is not None:
            progress(done, len(files))
    return report


def _report_unlisted(spec: Dataset, subjects: dict, listed: set[str], report: ImportReport) -> None:
    for subject in subjects.values():
        if subject.id in listed:
            continue
        if subject.status not in spec.status_map:
            report.skipped_subjects[f"status {subject.status or '(none)'!r} is not a label"] += 1
        else:
            report.skipped_subjects[spec.unlisted_reason] += 1


def _research_site(spec: Dataset) -> Site:
    site, _ = Site.objects.get_or_create(
        code=spec.code, defaults={"name": f"{spec.title} (public research data set)"}
    )
    return site


def _external_id(spec: Dataset, subject_id: str) -> str:
    return f"{spec.code}:{subject_id}"


def _why_no_patient(spec: Dataset, subject: datasets.Subject | None) -> str:
    if subject is None or subject.age is None:
        return "no age"
    return "subject id too long for an external id"


def _patient(spec: Dataset, site: Site, subject, report: ImportReport) -> Patient | None:
    """The subject's patient, created on first import; None when the subject cannot be one."""
    if subject is None or subject.age is None:
        return None
    external_id = _external_id(spec, subject.id)
    if len(external_id) > Patient._meta.get_field("external_id").max_length:
        return None
    existing = Patient.objects.filter(site=site, external_id=external_id).first()
    if existing is not None:
        return existing
    try:
        patient = create_patient(
            site=site, actor=None, external_id=external_id,
            given_name=GIVEN_NAME_PLACEHOLDER, family_name=f"{spec.title} subject",
            birth_date=datetime.date(timezone.localdate().year - subject.age, 7, 1),
            sex=subject.sex or Sex.UNKNOWN, research_consent=True,
        )  # fmt: skip
    except ExternalIdTaken:  # another import of the same data set created it meanwhile
        return Patient.objects.get(site=site, external_id=external_id)
    record_event(
        action="dataset.subject_imported", obj=patient,
        detail={"dataset": spec.code, "licence": LICENCE, "research_consent": "licence",
                "birth_date": "approximate, from the data set's age"},
    )  # fmt: skip
    report.patients_created += 1
    return patient


def _import_recording(spec, patient, labelled, subject, *, analyse, report) -> None:
    try:
        with labelled.path.open("rb") as handle:
            submission = submit_recording(
                patient=patient, file=File(handle, name=labelled.path.name), kind=labelled.kind,
                symptoms={}, actor=None, original_name=labelled.path.name, analyse=analyse,
                kind_minimum=False,
            )  # fmt: skip
    except AudioRejected as rejected:
        report.skipped_recordings[f"audio rejected: {rejected.code}"] += 1
        return
    if submission.duplicate:
        report.recordings_existing += 1
    else:
        report.recordings_created += 1
    diagnostic = submission.diagnostic
    if record_dataset_label(
        diagnostic=diagnostic, label=labelled.label, source=spec.title,
        status_field=datasets.STATUS_FIELDS[spec.code], status=subject.status, licence=LICENCE,
    ):  # fmt: skip
        report.labels_recorded += 1
    unanalysed = diagnostic.status == DiagnosticStatus.UNANALYSED
    if analyse and unanalysed and request_analysis(diagnostic=diagnostic):
        report.analyses_requested += 1
