"""Every result names what produced it: the model version, its artifact's sha256 and feature
settings (API, and a disclosure on the result page), and, for any model an administrator has not
marked clinically validated, "Research use only, not a medical device" wherever the result is
shown: result page, patient timeline, card, review queue, home page, API and live messages."""

import re

import pytest

from diagnostics import live
from portal.core.models import AuditEvent
from tests.factories import PatientFactory, UserFactory, verified_login
from tests.factories_clinical import ModelVersionFactory, succeeded
from tests.portal.page_helpers import text_of

pytestmark = pytest.mark.django_db

NOTICE = "Research use only, not a medical device."
FEATURES = {"sample_rate": 16000, "window": 400, "hop": 160, "fft": 512, "n_mels": 64,
            "fmin": 50.0, "fmax": 8000.0, "log_floor": 1e-06}  # fmt: skip


def pages_of(diagnostic):
    return ["/", f"/patients/{diagnostic.patient_id}/", f"/diagnostics/{diagnostic.pk}/",
            f"/diagnostics/{diagnostic.pk}/card/", "/review/"]  # fmt: skip


def result_of(site, **version):
    model = ModelVersionFactory(sha256="ab" * 32, features=FEATURES, **version)
    return succeeded(recording__patient=PatientFactory(site=site), model_version=model)


def test_a_model_not_clinically_validated_says_research_use_only_on_every_result(signed_in, site):
    diagnostic = result_of(site, trained_on="coughvid")

    for url in pages_of(diagnostic):
        assert NOTICE in text_of(signed_in.get(url)), url
    row = signed_in.get("/api/v1/diagnostics/").json()["results"][0]
    detail = signed_in.get(f"/api/v1/diagnostics/{diagnostic.pk}/").json()
    assert row["research_use_only"] is detail["research_use_only"] is True
    assert live.status_message(diagnostic)["research_use_only"] is True


def test_a_clinically_validated_model_drops_the_notice_but_a_synthetic_one_keeps_its_own(
    signed_in, site
):
    validated = result_of(site, trained_on="coughvid", clinically_validated=True)

    for url in pages_of(validated):
        page = text_of(signed_in.get(url))
        assert NOTICE not in page and "Trained on synthetic data" not in page, url
    assert (
        signed_in.get(f"/api/v1/diagnostics/{validated.pk}/").json()["research_use_only"] is False
    )

    synthetic = result_of(site, trained_on="synthetic")
    page = text_of(signed_in.get(f"/diagnostics/{synthetic.pk}/"))
    assert NOTICE in page and "Trained on synthetic data; not for clinical use." in page


def test_the_result_page_discloses_the_artifact_hash_and_feature_settings(signed_in, site):
    diagnostic = result_of(site, name="cough-cnn", version="2.1")

    html = signed_in.get(f"/diagnostics/{diagnostic.pk}/").content.decode()

    disclosure = re.search(r"<details class=\"model-provenance\".*?</details>", html, re.S)
    assert disclosure, "no provenance disclosure on the result page"
    text = " ".join(re.sub(r"<[^>]+>", " ", disclosure.group(0)).split())
    assert "cough-cnn 2.1" in text and "ab" * 32 in text
    assert "n_mels 64" in text and "hop 160" in text and "Clinically validated no" in text
    # The timeline keeps its cards short: the notice, not the disclosure.
    patient_page = signed_in.get(f"/patients/{diagnostic.patient_id}/").content.decode()
    assert "model-provenance" not in patient_page


def test_the_api_gives_the_model_version_hash_and_features_of_each_result(signed_in, site):
    diagnostic = result_of(site, name="cough-cnn", version="2.1", trained_on="synthetic")
    expected = {"name": "cough-cnn", "version": "2.1", "sha256": "ab" * 32,
                "trained_on": "synthetic", "synthetic": True, "clinically_validated": False,
                "features": FEATURES, "clip_seconds": 5.0}  # fmt: skip

    row = signed_in.get("/api/v1/diagnostics/").json()["results"][0]
    detail = signed_in.get(f"/api/v1/diagnostics/{diagnostic.pk}/").json()

    assert row["model"] == detail["model"] == expected
    assert row["model_version"] == detail["model_version"] == "cough-cnn 2.1"


def test_an_administrator_marks_a_version_clinically_validated_and_the_change_is_audited(
    client, site
):
    version = ModelVersionFactory(trained_on="coughvid")
    admin = UserFactory(username="root", is_staff=True, is_superuser=True)
    verified_login(client, admin)

    response = client.post(
        f"/admin/diagnostics/modelversion/{version.pk}/change/",
        {"clinically_validated": "on", "canary_fraction": "0"},
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    version.refresh_from_db()
    assert version.clinically_validated is True
    event = AuditEvent.objects.get(action="admin.changed", object_id=str(version.pk))
    assert event.actor == admin and event.detail == {"fields": ["Clinically validated"]}


def test_registering_an_artifact_records_its_feature_settings(tiny_artifact, db, media_root):
    from diagnostics.registry import register_model_version

    version = register_model_version(artifact_path=tiny_artifact)

    assert version.features == FEATURES
    assert version.clinically_validated is False and version.research_use_only is True
