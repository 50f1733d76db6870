"""``manage.py import_dataset``: a public data set becomes consenting patients of a research site,
its recordings pass the upload checks, its labels become reviewed truth, and a re-run changes
nothing. Fixtures are tiny synthetic WAVs in each data set's own layout."""

import datetime
import io
import json

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from diagnostics.ml.synth import generate_dataset, to_wav_bytes
from diagnostics.models import Diagnostic, DiagnosticStatus
from diagnostics.reviews import review_diagnostic
from media_assets.models import Recording
from portal.core.models import AuditEvent, Patient
from tests.diagnostics.inference_steps import queued_messages

pytestmark = pytest.mark.django_db(transaction=True)

SOUNDS = [to_wav_bytes(sound) for sound in generate_dataset(8, seed=21)]


def coughvid_layout(root):
    """Five subjects: two importable, one without an age, one unlabelled, one whose audio is not
    audio; plus one with a low cough score the reader leaves out."""
    subjects = [
        ("a1", {"status": "healthy", "age": "40", "gender": "female"}, SOUNDS[0]),
        ("b2", {"status": "symptomatic", "age": 25, "gender": "male"}, SOUNDS[1]),
        ("c3", {"status": "COVID-19"}, SOUNDS[2]),
        ("d4", {"status": "", "age": "33"}, SOUNDS[3]),
        ("e5", {"status": "healthy", "age": "51"}, b"RIFF, but not a sound"),
        ("f6", {"status": "healthy", "age": "60", "cough_detected": "0.1"}, SOUNDS[4]),
    ]
    for uuid, record, audio in subjects:
        (root / f"{uuid}.json").write_text(json.dumps({"cough_detected": "0.97", **record}))
        (root / f"{uuid}.wav").write_bytes(audio)


def coswara_layout(root):
    """p1 (three kinds of recording), p2 without an age, p3 whose status is not a label."""
    for date, pid, names in [
        ("20200413", "p1", ["cough-heavy", "breathing-deep", "vowel-a"]),
        ("20200413", "p2", ["cough-shallow"]),
        ("20200502", "p3", ["cough-heavy"]),
    ]:
        (root / date / pid).mkdir(parents=True)
        for n, name in enumerate(names):
            (root / date / pid / f"{name}.wav").write_bytes(SOUNDS[5 + n])
    (root / "combined_data.csv").write_text(
        "id,a,covid_status,g\np1,71,positive_mild,female\np2,,healthy,male\n"
        "p3,30,under_validation,male\n"
    )


def run(*args) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("import_dataset", *map(str, args), stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_coughvid_subjects_become_consenting_patients_with_their_labels_as_reviews(
    tmp_path, empty_broker
):
    coughvid_layout(tmp_path)

    out, err = run("coughvid", tmp_path)

    patients = {p.external_id: p for p in Patient.objects.select_related("site")}
    assert set(patients) == {"coughvid:a1", "coughvid:b2", "coughvid:e5"}
    a1 = patients["coughvid:a1"]
    assert a1.site.code == "coughvid" and a1.research_consent and a1.research_consent_at
    assert (a1.given_name, a1.family_name, a1.sex) == ("—", "COUGHVID subject", "female")
    assert a1.birth_date == datetime.date(timezone.localdate().year - 40, 7, 1)
    diagnostics = Diagnostic.objects.select_related("patient").order_by("patient__external_id")
    assert [(d.patient.external_id, d.review_label) for d in diagnostics] == [
        ("coughvid:a1", "healthy"),
        ("coughvid:b2", "anomaly"),
    ]
    b2 = diagnostics[1]
    assert b2.review_note == "Label from the COUGHVID data set, its status field: symptomatic"
    assert b2.reviewed_by is None and b2.reviewed_at is not None and b2.review_imported
    assert b2.recording.kind == "cough" and b2.recording.duration_s > 0
    # Training truth only: nothing was sent to the model.
    assert {d.status for d in diagnostics} == {DiagnosticStatus.UNANALYSED}
    assert queued_messages() == []
    imported = AuditEvent.objects.filter(action="dataset.label_imported")
    assert imported.count() == 2
    assert {e.detail["licence"] for e in imported} == {"CC BY 4.0"}
    assert "2 imported" in out and "labels recorded as reviewed truth: 2" in out
    assert "  no age: 1" in out and "  audio rejected: not_audio: 1" in out
    assert "  status '(none)' is not a label: 1" in out
    assert "  cough_detected below 0.8 or no audio file: 1" in out
    assert "4/4 recordings" in err  # c3 (no age) and e5 (not audio) among them


def test_a_second_import_of_the_same_data_set_changes_nothing(tmp_path, empty_broker):
    coughvid_layout(tmp_path)
    run("coughvid", tmp_path)
    before = (Patient.objects.count(), Recording.objects.count(), AuditEvent.objects.count())

    out, _ = run("coughvid", tmp_path)

    after = (Patient.objects.count(), Recording.objects.count(), AuditEvent.objects.count())
    assert after == before
    assert "0 patients created" in out
    assert "recordings: 0 imported, 2 already there" in out
    assert "labels recorded as reviewed truth: 0" in out


def test_coswara_participants_keep_each_kind_of_recording_and_skip_those_without_an_age(
    tmp_path, empty_broker
):
    coswara_layout(tmp_path)

    out, _ = run("coswara", tmp_path)

    patient = Patient.objects.get()
    assert (patient.external_id, patient.site.code, patient.sex) == (
        "coswara:p1",
        "coswara",
        "female",
    )
    assert patient.birth_date == datetime.date(timezone.localdate().year - 71, 7, 1)
    kinds = sorted(Recording.objects.values_list("kind", flat=True))
    assert kinds == ["breath", "cough", "speech"]
    notes = set(Diagnostic.objects.values_list("review_label", "review_note"))
    assert notes == {
        ("anomaly", "Label from the Coswara data set, its covid_status field: positive_mild")
    }
    assert "  no age: 1" in out and "  status 'under_validation' is not a label: 1" in out


def test_with_analyse_the_recordings_are_queued_like_uploads(tmp_path, empty_broker):
    coughvid_layout(tmp_path)
    run("coughvid", tmp_path)  # first as training truth only

    out, _ = run("coughvid", tmp_path, "--analyse")

    assert set(Diagnostic.objects.values_list("status", flat=True)) == {DiagnosticStatus.QUEUED}
    assert len(queued_messages()) == 1  # one message for the waiting batch, as for uploads
    assert "queued for analysis: 2" in out
    assert set(Diagnostic.objects.values_list("review_label", flat=True)) == {"healthy", "anomaly"}


def test_a_folder_without_the_layout_is_refused(tmp_path):
    with pytest.raises(CommandError, match="metadata"):
        run("coswara", tmp_path)


def test_a_re_run_keeps_a_clinicians_later_review(tmp_path, empty_broker, clinician):
    coughvid_layout(tmp_path)
    run("coughvid", tmp_path, "--analyse")
    diagnostic = Diagnostic.objects.get(patient__external_id="coughvid:a1")
    # As the worker would: a result, which a clinician then corrects.
    Diagnostic.objects.filter(pk=diagnostic.pk).update(
        status=DiagnosticStatus.SUCCEEDED, label="healthy", confidence=0.9
    )
    diagnostic.refresh_from_db()
    review_diagnostic(diagnostic=diagnostic, actor=clinician, decision="correct", label="anomaly")

    out, _ = run("coughvid", tmp_path)

    diagnostic.refresh_from_db()
    assert (diagnostic.review_label, diagnostic.reviewed_by) == ("anomaly", clinician)
    assert not diagnostic.review_imported  # the clinician's review, not the data set's
    assert "labels recorded as reviewed truth: 0" in out


def test_labels_imported_before_the_flag_are_marked_by_the_migration(
    tmp_path, empty_broker, clinician
):
    import importlib

    from django.apps import apps

    coughvid_layout(tmp_path)
    run("coughvid", tmp_path)
    Diagnostic.objects.update(review_imported=False)  # as they were before 0011
    clinical = Diagnostic.objects.get(patient__external_id="coughvid:a1")
    Diagnostic.objects.filter(pk=clinical.pk).update(reviewed_by=clinician)

    importlib.import_module("diagnostics.migrations.0011_review_imported").mark_imported_labels(
        apps, None
    )

    marked = dict(Diagnostic.objects.values_list("patient__external_id", "review_imported"))
    assert marked == {"coughvid:a1": False, "coughvid:b2": True}


def test_the_previous_releases_inserts_without_the_flag_still_work():
    """During a release the old processes keep inserting diagnostics without the new column
    (docs/deploy.md): the database must fill it in."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT column_default, is_nullable FROM information_schema.columns"
            " WHERE table_name = 'diagnostics_diagnostic' AND column_name = 'review_imported'"
        )
        assert cursor.fetchone() == ("false", "NO")
