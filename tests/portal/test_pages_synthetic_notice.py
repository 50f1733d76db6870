"""Every page that shows a model's result names the model version, and says when the model was
trained on synthetic data and is not for clinical use."""

import pytest

from tests.factories import PatientFactory
from tests.factories_clinical import ModelVersionFactory, succeeded
from tests.portal.page_helpers import text_of

pytestmark = pytest.mark.django_db


NOTICE = "Trained on synthetic data; not for clinical use."


def pages_of(diagnostic):
    return [f"/patients/{diagnostic.patient_id}/", f"/diagnostics/{diagnostic.pk}/",
            f"/diagnostics/{diagnostic.pk}/card/", "/review/"]  # fmt: skip


def test_a_synthetic_models_results_carry_the_notice_and_the_version(signed_in, site):
    version = ModelVersionFactory(name="cough-cnn", version="0.3", trained_on="synthetic")
    diagnostic = succeeded(recording__patient=PatientFactory(site=site), model_version=version)

    for url in pages_of(diagnostic):
        page = text_of(signed_in.get(url))
        assert NOTICE in page, url
        assert "Model cough-cnn 0.3" in page, url


def test_a_model_trained_on_real_recordings_shows_its_version_without_the_notice(signed_in, site):
    version = ModelVersionFactory(name="coughvid-cnn", version="1.0", trained_on="coughvid")
    diagnostic = succeeded(recording__patient=PatientFactory(site=site), model_version=version)

    for url in pages_of(diagnostic):
        page = text_of(signed_in.get(url))
        assert NOTICE not in page, url
        assert "Model coughvid-cnn 1.0" in page, url


def test_labels_are_shown_in_plain_words_with_the_confidence(signed_in, site):
    diagnostic = succeeded(recording__patient=PatientFactory(site=site), label="inconclusive",
                           confidence=0.613)  # fmt: skip

    page = text_of(signed_in.get(f"/diagnostics/{diagnostic.pk}/"))

    assert "inconclusive: please re-record or review" in page
    assert "Confidence 61%" in page
