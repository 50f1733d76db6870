"""Audio (a voiceprint) only through short-lived, audited links, and only with an agreement."""

import numpy as np
import pytest
from django.core.files.storage import default_storage

from media_assets import audio as media_audio
from media_assets.models import RecordingPseudonym
from portal.core import services
from portal.core.models import AuditEvent
from tests.api.research_data import AUDIO, RECORDER_TAGS, export, rows_of, seed_cohort

pytestmark = pytest.mark.django_db


def audio_path(pseudonym: str) -> str:
    return f"/api/v1/research/recordings/{pseudonym}/audio"


@pytest.fixture
def exported(agreement_api, site):
    """A limited-data-set export has been made; its rows name the recordings."""
    cohort = seed_cohort(site, store_audio=True)
    rows = rows_of("csv", export(agreement_api, "csv", dataset="limited")[1])
    return cohort, rows


def download(client, url: str):
    response = client.get(url)
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return response, body


def test_without_an_agreement_there_is_no_audio_link(researcher_api, exported):
    _, rows = exported

    response = researcher_api.get(rows[0]["audio_url"])

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "data_use_agreement_required"


def test_a_link_is_short_lived_signed_and_gives_the_audio_without_other_credentials(
    agreement_api, exported, client, settings
):
    _, rows = exported

    link = agreement_api.get(rows[0]["audio_url"])
    response, body = download(client, link.json()["url"])  # a client without any credentials

    assert link.status_code == 200
    assert set(link.json()) == {"url", "expires_at"}
    assert "/api/v1/research/audio/" in link.json()["url"]
    assert response.status_code == 200 and body.startswith(b"RIFF")
    assert response["Content-Type"] == "audio/wav"
    assert response["Content-Disposition"] == (
        f'attachment; filename="{rows[0]["recording_id"]}.wav"'
    )
    assert response["Cache-Control"] == "private, no-store"


def test_issuing_and_using_a_link_are_audited_with_the_patient(agreement_api, exported, client):
    _, rows = exported
    pseudonym = RecordingPseudonym.objects.select_related("recording").get(
        value=rows[0]["recording_id"]
    )

    download(client, agreement_api.get(rows[0]["audio_url"]).json()["url"])

    issued = AuditEvent.objects.get(action="research.audio_link_issued")
    downloaded = AuditEvent.objects.get(action="research.audio_downloaded")
    for event in (issued, downloaded):
        assert event.patient_id == pseudonym.recording.patient_id
        assert event.actor.username == "dua-researcher"


def test_an_expired_or_altered_link_is_refused(agreement_api, exported, client, settings):
    _, rows = exported
    url = agreement_api.get(rows[0]["audio_url"]).json()["url"]

    altered, _ = download(client, url[:-3] + ("AAA" if not url.endswith("AAA") else "BBB"))
    settings.RESEARCH_AUDIO_LINK_SECONDS = -1
    expired, _ = download(client, url)

    assert altered.status_code == 403 and altered.json()["error"]["code"] == "link_invalid"
    assert expired.status_code == 403 and expired.json()["error"]["code"] == "link_expired"
    assert not AuditEvent.objects.filter(action="research.audio_downloaded").exists()


def test_a_consent_withdrawn_after_the_link_was_issued_closes_it(
    agreement_api, exported, client, clinician
):
    _, rows = exported
    url = agreement_api.get(rows[0]["audio_url"]).json()["url"]
    patient = RecordingPseudonym.objects.get(value=rows[0]["recording_id"]).recording.patient

    services.update_patient(patient=patient, actor=clinician, research_consent=False)
    response, body = download(client, url)
    link_again = agreement_api.get(rows[0]["audio_url"])

    assert response.status_code == 403 and body != AUDIO
    assert link_again.status_code == 404


def test_an_unknown_pseudonym_is_not_found(agreement_api, exported):
    response = agreement_api.get(audio_path("0" * 24))

    assert response.status_code == 404
    assert response.json() == {"error": {"code": "not_found", "message": "Recording not found."}}


def test_the_audio_is_a_copy_of_the_samples_without_what_the_recorder_wrote_beside_them(
    agreement_api, exported, client
):
    """The original carries a LIST/INFO chunk naming the patient's phone; the researcher gets a
    plain 16-bit mono WAV of the same samples, and the original stays as it was."""
    cohort, rows = exported
    recording = cohort.diagnostics[0].recording

    _, body = download(client, agreement_api.get(rows[0]["audio_url"]).json()["url"])

    assert RECORDER_TAGS in AUDIO and RECORDER_TAGS not in body and b"LIST" not in body
    copy, original = media_audio.decode(body, max_duration_s=60, min_duration_s=0), \
        media_audio.decode(AUDIO, max_duration_s=60, min_duration_s=0)  # fmt: skip
    assert copy.sample_rate == 16000 and copy.channels == 1
    assert np.abs(copy.samples - original.samples).max() < 1e-4
    with default_storage.open(recording.storage_key, "rb") as handle:
        assert handle.read() == AUDIO


def test_audio_storage_out_of_reach_is_a_503_to_retry_not_a_crash(
    agreement_api, exported, monkeypatch
):
    _, rows = exported

    def unreachable(*args, **kwargs):
        raise OSError("storage down")

    monkeypatch.setattr(default_storage, "open", unreachable)
    response = agreement_api.get(rows[0]["audio_url"])

    assert response.status_code == 503
    assert response.json()["error"]["code"] == "storage_unavailable"
    assert not AuditEvent.objects.filter(action="research.audio_link_issued").exists()
