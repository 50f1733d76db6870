"""COUGHVID and Coswara importers read layouts and metadata, never audio."""

from __future__ import annotations

import json

import pytest

from diagnostics.ml.datasets import (
    DatasetLayoutError,
    Subject,
    coswara,
    coswara_subjects,
    coughvid,
    coughvid_subjects,
)


def _coughvid_record(root, uuid, status, cough_detected, suffix=".webm"):
    (root / f"{uuid}.json").write_text(
        json.dumps({"status": status, "cough_detected": cough_detected, "age": "40"})
    )
    if suffix:
        (root / f"{uuid}{suffix}").write_bytes(b"not decoded by the importer")


def test_coughvid_maps_statuses_and_finds_each_audio_format(tmp_path):
    _coughvid_record(tmp_path, "a1", "healthy", "0.95", ".webm")
    _coughvid_record(tmp_path, "b2", "symptomatic", 0.9, ".ogg")
    _coughvid_record(tmp_path, "c3", "COVID-19", 0.99, ".wav")
    files = {f.subject: f for f in coughvid(tmp_path)}
    assert {k: f.label for k, f in files.items()} == {
        "a1": "healthy",
        "b2": "anomaly",
        "c3": "anomaly",
    }
    assert files["b2"].path == tmp_path / "b2.ogg"
    assert {(f.kind, f.source) for f in files.values()} == {("cough", "coughvid")}


def test_coughvid_skips_unknown_status_low_cough_score_and_missing_audio(tmp_path):
    _coughvid_record(tmp_path, "keep", "healthy", 0.8)
    _coughvid_record(tmp_path, "nostatus", "", 0.99)
    _coughvid_record(tmp_path, "lowscore", "symptomatic", 0.3)
    _coughvid_record(tmp_path, "noaudio", "healthy", 0.99, suffix=None)
    (tmp_path / "broken.json").write_text("{not json")
    (tmp_path / "broken.webm").write_bytes(b"x")
    assert [f.subject for f in coughvid(tmp_path)] == ["keep"]
    assert [f.subject for f in coughvid(tmp_path, min_cough_detected=0.2)] == ["keep", "lowscore"]


def _coswara_participant(root, date, pid, names):
    folder = root / date / pid
    folder.mkdir(parents=True)
    for name in names:
        (folder / f"{name}.wav").write_bytes(b"RIFF")


def _coswara_layout(root):
    all_recordings = ["cough-heavy", "breathing-deep", "counting-normal", "vowel-a", "notes"]
    _coswara_participant(root, "20200413", "p1", all_recordings)
    _coswara_participant(root, "20200413", "p2", ["cough-shallow", "breathing-shallow"])
    _coswara_participant(root, "20200502", "p3", ["cough-heavy"])
    _coswara_participant(root, "20200502", "p4", ["cough-heavy"])
    _coswara_participant(root, "20200502", "p5", ["cough-heavy"])
    (root / "combined_data.csv").write_text(
        "id,a,covid_status,g\n"
        "p1,x,healthy,male\n"
        "p2,x,positive_mild,female\n"
        "p3,x,under_validation,male\n"
        "p4,x,resp_illness_not_identified,male\n"
    )


def test_coswara_labels_participants_and_kinds_from_the_layout(tmp_path):
    _coswara_layout(tmp_path)
    found = {(f.subject, f.path.stem): (f.label, f.kind) for f in coswara(tmp_path)}
    assert found == {
        ("p1", "cough-heavy"): ("healthy", "cough"),
        ("p1", "breathing-deep"): ("healthy", "breath"),
        ("p1", "counting-normal"): ("healthy", "speech"),
        ("p1", "vowel-a"): ("healthy", "speech"),
        ("p2", "cough-shallow"): ("anomaly", "cough"),
        ("p2", "breathing-shallow"): ("anomaly", "breath"),
        ("p4", "cough-heavy"): ("anomaly", "cough"),
    }


def test_coswara_can_keep_only_some_kinds(tmp_path):
    _coswara_layout(tmp_path)
    files = coswara(tmp_path, kinds={"breath"})
    assert sorted(f.path.name for f in files) == ["breathing-deep.wav", "breathing-shallow.wav"]
    assert {f.source for f in files} == {"coswara"}


def test_coswara_finds_metadata_one_level_down(tmp_path):
    _coswara_layout(tmp_path / "Extracted_data")
    (tmp_path / "Extracted_data" / "combined_data.csv").rename(tmp_path / "x.csv")
    (tmp_path / "Extracted_data" / "meta").mkdir()
    (tmp_path / "x.csv").rename(tmp_path / "Extracted_data" / "meta" / "metadata.csv")
    assert len(coswara(tmp_path / "Extracted_data")) == 7


def test_coswara_without_metadata_is_a_layout_error(tmp_path):
    _coswara_participant(tmp_path, "20200413", "p1", ["cough-heavy"])
    with pytest.raises(DatasetLayoutError, match="metadata"):
        coswara(tmp_path)


def test_missing_folder_is_a_layout_error(tmp_path):
    with pytest.raises(DatasetLayoutError):
        coughvid(tmp_path / "absent")


def test_coughvid_subjects_carry_status_age_and_sex_as_written(tmp_path):
    _coughvid_record(tmp_path, "a1", "symptomatic", 0.9)
    (tmp_path / "b2.json").write_text(
        json.dumps({"status": "healthy", "age": 300, "gender": "Male"})
    )
    assert coughvid_subjects(tmp_path) == {
        "a1": Subject("a1", "symptomatic", 40, ""),
        "b2": Subject("b2", "healthy", None, "male"),
    }


def test_coswara_subjects_read_age_and_sex_from_the_metadata(tmp_path):
    _coswara_layout(tmp_path)
    (tmp_path / "combined_data.csv").write_text(
        "id,a,covid_status,g\np1,34,healthy,female\np2,,positive_mild,other\n"
    )
    assert coswara_subjects(tmp_path) == {
        "p1": Subject("p1", "healthy", 34, "female"),
        "p2": Subject("p2", "positive_mild", None, "other"),
    }
