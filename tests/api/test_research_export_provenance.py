"""Every exported row says which model produced its result and whether that model was trained on
synthetic sounds, so a researcher never mistakes a demonstration model's output for a real one's."""

import pytest

from tests.api.research_data import export, rows_of, seed_cohort
from tests.factories_clinical import ModelVersionFactory, RecordingFactory, succeeded

pytestmark = pytest.mark.django_db


def _real_model_result(site):
    """A third consenting patient's result from a model trained on real recordings."""
    patient = seed_cohort(site).consenting[0]
    model = ModelVersionFactory(name="cough-cnn", version="9.1", trained_on="coughvid")
    return succeeded(recording=RecordingFactory(patient=patient), model_version=model)


def _by_model(rows):
    return {
        row["model_version"]: (str(row["model_trained_on"]), str(row["model_synthetic"]).lower())
        for row in rows
    }


@pytest.mark.parametrize("fmt", ["csv", "ndjson", "parquet"])
def test_safe_harbor_rows_name_the_model_and_whether_it_was_synthetic(researcher_api, site, fmt):
    _real_model_result(site)

    rows = rows_of(fmt, export(researcher_api, fmt)[1])

    by_model = _by_model(rows)
    assert by_model.pop("cough-cnn 9.1") == ("coughvid", "false")
    assert set(by_model.values()) == {("synthetic", "true")}


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_limited_data_set_rows_carry_the_same_provenance(agreement_api, site, fmt):
    _real_model_result(site)

    rows = rows_of(fmt, export(agreement_api, fmt, dataset="limited")[1])

    by_model = _by_model(rows)
    assert by_model.pop("cough-cnn 9.1") == ("coughvid", "false")
    assert set(by_model.values()) == {("synthetic", "true")}
