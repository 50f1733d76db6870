"""Importers for the directory layouts of public respiratory-sound data sets.

A site that holds a copy of COUGHVID or Coswara points these at it and gets `LabelledFile`s to
train on real recordings. They only read metadata and list files: decoding stays with the Django
side's one audio module (`media_assets/audio/`), which turns each file into 16 kHz mono samples.

Statuses are mapped to our two labels conservatively: symptomatic or COVID-positive with symptoms
is `anomaly`, healthy is `healthy`, and anything whose sound we cannot label with confidence
(unknown, asymptomatic, recovered, under validation) is skipped rather than guessed.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

COUGHVID_STATUS = {"healthy": "healthy", "symptomatic": "anomaly", "COVID-19": "anomaly"}
COUGHVID_AUDIO_SUFFIXES = (".webm", ".ogg", ".wav")

COSWARA_STATUS = {
    "healthy": "healthy",
    "no_resp_illness_exposed": "healthy",
    "positive_mild": "anomaly",
    "positive_moderate": "anomaly",
    "resp_illness_not_identified": "anomaly",
}
# Recording stem -> kind; counting and vowels are speech.
COSWARA_KINDS = {
    "cough-heavy": "cough",
    "cough-shallow": "cough",
    "breathing-deep": "breath",
    "breathing-shallow": "breath",
    "counting-fast": "speech",
    "counting-normal": "speech",
    "vowel-a": "speech",
    "vowel-e": "speech",
    "vowel-o": "speech",
}
COSWARA_METADATA_NAMES = ("combined_data.csv", "metadata.csv")
# The metadata field each data set writes its health status in (named in imported reviews' notes).
STATUS_FIELDS = {"coughvid": "status", "coswara": "covid_status"}
SEXES = {"female": "female", "male": "male", "other": "other"}


class DatasetLayoutError(Exception):
    """A data set directory lacks what its layout requires (e.g. no metadata file)."""


@dataclass(frozen=True)
class LabelledFile:
    """One recording on disk with its label, kind, data set and subject (for leak-free splits)."""

    path: Path
    label: str
    kind: str
    source: str
    subject: str


@dataclass(frozen=True)
class Subject:
    """What a data set says about one subject beside the label: the status as written, the age
    in whole years (None when absent or implausible) and the sex (``female``, ``male``, ``other``
    or ``""`` when not stated)."""

    id: str
    status: str
    age: int | None
    sex: str


def coughvid_subjects(root: str | Path) -> dict[str, Subject]:
    """COUGHVID's subjects (one per recording's `<uuid>.json`), keyed by uuid."""
    subjects = {}
    for meta_path in sorted(Path(root).glob("*.json")):
        record = _read_json(meta_path)
        subjects[meta_path.stem] = Subject(
            meta_path.stem,
            str(record.get("status") or ""),
            _age(record.get("age")),
            SEXES.get(str(record.get("gender") or "").strip().lower(), ""),
        )
    return subjects


def coswara_subjects(
    root: str | Path, *, metadata_csv: str | Path | None = None
) -> dict[str, Subject]:
    """Coswara's participants from its metadata file (columns `id`, `covid_status`, `a`, `g`)."""
    path = Path(metadata_csv) if metadata_csv else _coswara_csv(Path(root))
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    subjects = {}
    for row in rows:
        pid = (row.get("id") or "").strip()
        if pid:
            subjects[pid] = Subject(
                pid,
                (row.get("covid_status") or "").strip(),
                _age(row.get("a")),
                SEXES.get((row.get("g") or "").strip().lower(), ""),
            )
    return subjects


def coughvid(
    root: str | Path,
    *,
    min_cough_detected: float = 0.8,
    status_map: Mapping[str, str] = COUGHVID_STATUS,
) -> list[LabelledFile]:
    """COUGHVID: `<uuid>.json` beside `<uuid>.webm|.ogg|.wav` in one folder.

    Keeps records whose `status` is in `status_map` and whose `cough_detected` (the data set's
    own cough classifier score) is at least `min_cough_detected`. Missing audio is skipped.
    """
    root = Path(root)
    if not root.is_dir():
        raise DatasetLayoutError(f"COUGHVID folder {root} does not exist")
    files = []
    for meta_path in sorted(root.glob("*.json")):
        record = _read_json(meta_path)
        label = status_map.get(str(record.get("status", "")))
        if label is None or _float(record.get("cough_detected")) < min_cough_detected:
            continue
        audio = _first_existing(meta_path.with_suffix(s) for s in COUGHVID_AUDIO_SUFFIXES)
        if audio is not None:
            files.append(LabelledFile(audio, label, "cough", "coughvid", meta_path.stem))
    return files


def coswara(
    root: str | Path,
    *,
    kinds: Collection[str] = ("cough", "breath", "speech"),
    status_map: Mapping[str, str] = COSWARA_STATUS,
    metadata_csv: str | Path | None = None,
) -> list[LabelledFile]:
    """Coswara: `<date>/<participant id>/<recording>.wav`, at any depth, with a
    `combined_data.csv` or `metadata.csv` (columns `id`, `covid_status`) at the root or one
    level down.

    Participants whose status is not in `status_map` are skipped, as are recordings whose
    kind is not in `kinds` and files not named after a known recording.
    """
    root = Path(root)
    if not root.is_dir():
        raise DatasetLayoutError(f"Coswara folder {root} does not exist")
    labels = _coswara_labels(Path(metadata_csv) if metadata_csv else _coswara_csv(root), status_map)
    files = []
    # rglob: copies nest the date folders differently (e.g. under Extracted_data/).
    for wav in sorted(root.rglob("*.wav")):
        participant, kind = wav.parent.name, COSWARA_KINDS.get(wav.stem)
        if kind in kinds and participant in labels:
            files.append(LabelledFile(wav, labels[participant], kind, "coswara", participant))
    return files


def _coswara_csv(root: Path) -> Path:
    for name in COSWARA_METADATA_NAMES:
        for candidate in (root / name, *sorted(root.glob(f"*/{name}"))):
            if candidate.is_file():
                return candidate
    raise DatasetLayoutError(f"no {' or '.join(COSWARA_METADATA_NAMES)} under {root}")


def _coswara_labels(csv_path: Path, status_map: Mapping[str, str]) -> dict[str, str]:
    """Participant id -> label for rows with a mapped `covid_status`."""
    with csv_path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if not {"id", "covid_status"} <= set(reader.fieldnames or ()):
            raise DatasetLayoutError(f"{csv_path} lacks an id or covid_status column")
        rows = list(reader)
    labels = {}
    for row in rows:
        label = status_map.get((row.get("covid_status") or "").strip())
        if label is not None and row["id"].strip():
            labels[row["id"].strip()] = label
    return labels


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}  # an unreadable metadata file is an unlabelled recording: skipped
    return data if isinstance(data, dict) else {}


def _float(value: object) -> float:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return -math.inf
    return number if math.isfinite(number) else -math.inf


def _age(value: object) -> int | None:
    number = _float(value)
    return int(number) if 0 <= number <= 120 else None


def _first_existing(paths: Iterator[Path]) -> Path | None:
    return next((p for p in paths if p.is_file()), None)
