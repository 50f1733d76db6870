"""Faults between storage and database: nothing half-done remains once the jobs have run."""

import pytest
from django.db import connection

from tests.factories import PatientFactory
from tests.media_assets.uploading import cough_wav, nothing_left_behind, post_recording


@pytest.mark.django_db
def test_when_storage_cannot_write_the_upload_is_a_503_and_no_row_exists(
    client, clinician, site, settings, media_root
):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "tests.media_assets.broken_storage.WriteFailingStorage",
            "OPTIONS": {"location": str(media_root)},
        },
    }
    client.force_login(clinician)

    response = post_recording(client, PatientFactory(site=site), cough_wav())

    assert response.status_code == 503
    assert response.json()["error"]["code"] == "storage_unavailable"
    assert "try again" in response.json()["error"]["message"]
    assert nothing_left_behind(media_root)


FAIL_AT_COMMIT = """
CREATE FUNCTION test_fail_commit() RETURNS trigger AS $$
BEGIN RAISE EXCEPTION 'simulated commit failure' USING ERRCODE = 'serialization_failure'; END;
$$ LANGUAGE plpgsql;
CREATE CONSTRAINT TRIGGER test_fail_commit AFTER INSERT ON diagnostics_diagnostic
DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION test_fail_commit();
"""


@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs a deferred trigger")
@pytest.mark.django_db(transaction=True)
def test_when_the_commit_fails_after_the_object_was_written_the_object_is_removed(
    client, clinician, site, media_root
):
    with connection.cursor() as cursor:
        cursor.execute(FAIL_AT_COMMIT)
    client.force_login(clinician)
    try:
        response = post_recording(client, PatientFactory(site=site), cough_wav())
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TRIGGER test_fail_commit ON diagnostics_diagnostic")
            cursor.execute("DROP FUNCTION test_fail_commit()")

    assert response.status_code == 503
    assert response.json()["error"]["code"] == "not_saved"
    assert nothing_left_behind(media_root)
