"""A research cohort whose identifiers are distinctive enough to search export bytes for, and the
steps that fetch and read exports."""

import csv
import datetime
import io
import json
import struct
from dataclasses import dataclass, field

import pyarrow.parquet as pq
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from portal.core.models import Patient
from tests.factories import PatientFactory, UserFactory
from tests.factories_clinical import RecordingFactory, succeeded
from tests.fixtures.audio_corpus import pcm_wav, tone

EXPORT_URL = "/api/v1/research/diagnostics/"
RECORDED_AT = datetime.datetime(2024, 3, 14, 10, 22, 37, tzinfo=datetime.UTC)
REVIEWED_AT = datetime.datetime(2024, 3, 15, 8, 5, 0, tzinfo=datetime.UTC)
# What a recorder might write beside the sound: a LIST/INFO chunk naming the patient and phone.
RECORDER_TAGS = b"Zebulon Quackenbush's iPhone"
AUDIO = pcm_wav(
    tone(seconds=1.0), 16000,
    trailing_chunks=b"LIST" + struct.pack("<I", 4 + 8 + len(RECORDER_TAGS)) + b"INFO"
    + b"INAM" + struct.pack("<I", len(RECORDER_TAGS)) + RECORDER_TAGS,
)  # fmt: skip


@dataclass
class Cohort:
    consenting: list[Patient]
    refusing: list[Patient]
    diagnostics: list = field(default_factory=list)
    identifiers: list[str] = field(default_factory=list)


def _patient(site, n: int, *, consent: bool, birth_date: datetime.date) -> Patient:
    return PatientFactory(
        site=site, given_name=f"Zebulon{n}xq", family_name=f"Quackenbush{n}vy",
        external_id=f"MRN-ZX-{n:05d}-K", birth_date=birth_date, sex="female",
        research_consent=consent,
        research_consent_at=datetime.datetime.now(datetime.UTC) if consent else None,
    )  # fmt: skip


def seed_cohort(site, *, store_audio: bool = False) -> Cohort:
    """Two consenting patients (one 93 years old at the recording) and one who never consented."""
    reviewer = UserFactory(username="dr-hieronymus-vex")
    consenting = [
        _patient(site, 1, consent=True, birth_date=datetime.date(1987, 11, 23)),
        _patient(site, 2, consent=True, birth_date=datetime.date(1931, 2, 13)),
    ]
    refusing = [_patient(site, 3, consent=False, birth_date=datetime.date(1975, 6, 30))]
    cohort = Cohort(consenting=consenting, refusing=refusing)
    for n, patient in enumerate([*consenting, *refusing]):
        key = f"recordings/{site.code}/2024/03/secretkey{n}a9f3e1c7d5b.wav"
        recording = RecordingFactory(
            patient=patient, created_at=RECORDED_AT, storage_key=key,
            original_name=f"zebulon-cough-{n}.wav", uploaded_by=reviewer,
            quality={"clipping_ratio": 0.0012, "silence_ratio": 0.25, "loudness_dbfs": -23.5,
                     "peak_dbfs": -3.1, "cough_score": 0.91, "cough_detected": True,
                     "warnings": []},
        )  # fmt: skip
        if store_audio:
            default_storage.save(key, ContentFile(AUDIO))
        cohort.diagnostics.append(
            succeeded(
                recording=recording, label="anomaly", confidence=0.8125,
                symptoms={"fever": True, "cough_days": 12, "known_conditions": ["asthma"]},
                review_label="healthy", review_note=f"Phoned Mrs Quackenbush{n}vy at 555-0199",
                reviewed_by=reviewer, reviewed_at=REVIEWED_AT,
            )
        )  # fmt: skip
        cohort.identifiers += [
            patient.given_name, patient.family_name, patient.external_id,
            patient.birth_date.isoformat(), patient.birth_date.strftime("%Y%m%d"),
            patient.birth_date.strftime("%d/%m/%Y"), patient.birth_date.strftime("%m/%d/%Y"),
            key, recording.original_name, "555-0199",
        ]  # fmt: skip
    cohort.identifiers += [reviewer.username, "Phoned", "10:22", "2024-03-14", "2024-03-15"]
    return cohort


def export(client, fmt: str = "csv", **params):
    response = client.get(EXPORT_URL, {"format": fmt, **params})
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return response, body


def rows_of(fmt: str, body: bytes) -> list[dict]:
    """The rows as text values, whatever the format, for comparisons across formats."""
    if fmt == "csv":
        return list(csv.DictReader(io.StringIO(body.decode())))
    if fmt == "ndjson":
        return [json.loads(line) for line in body.decode().splitlines()]
    return pq.read_table(io.BytesIO(body)).to_pylist()
