"""Invariants the database itself enforces, whatever code path writes."""

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.utils import timezone

from diagnostics.models import Diagnostic, ModelStatus, ModelVersion
from media_assets.models import Recording
from portal.core.audit import record_event
from portal.core.models import AuditEvent, AuditLogIsAppendOnly, Patient
from tests.factories import PatientFactory, SiteFactory

pytestmark = pytest.mark.django_db


def test_external_id_is_unique_within_a_site():
    patient = PatientFactory(external_id="MRN-1")

    with pytest.raises(IntegrityError), transaction.atomic():
        PatientFactory(site=patient.site, external_id="MRN-1")


def test_the_same_external_id_may_exist_at_another_site():
    first = PatientFactory(external_id="MRN-1")
    second = PatientFactory(site=SiteFactory(), external_id="MRN-1")

    assert first.site_id != second.site_id


def test_birth_date_in_the_future_is_a_validation_error():
    patient = PatientFactory.build(
        site=SiteFactory(), birth_date=timezone.localdate() + datetime.timedelta(days=1)
    )

    with pytest.raises(ValidationError) as error:
        patient.full_clean()
    assert "birth_date" in error.value.message_dict


def test_research_consent_requires_its_date_in_the_database():
    with pytest.raises(IntegrityError), transaction.atomic():
        PatientFactory(research_consent=True, research_consent_at=None)


def test_patient_repr_never_shows_the_name():
    patient = PatientFactory(given_name="Wilhelmina", family_name="Zzyzx")

    assert "Wilhelmina" not in str(patient) and "Zzyzx" not in str(patient)


def _model_version(version: str, status: str) -> ModelVersion:
    return ModelVersion.objects.create(
        name="cough-cnn", version=version, artifact=f"models/{version}.zip", sha256="0" * 64,
        labels=["healthy", "anomaly"], status=status,
    )  # fmt: skip


def test_only_one_model_version_can_be_in_production():
    _model_version("1", ModelStatus.PRODUCTION)

    with pytest.raises(IntegrityError), transaction.atomic():
        _model_version("2", ModelStatus.PRODUCTION)
    assert ModelVersion.objects.filter(status=ModelStatus.PRODUCTION).count() == 1


def test_many_model_versions_may_be_archived_or_candidates():
    for version in "123":
        _model_version(f"a{version}", ModelStatus.ARCHIVED)
        _model_version(f"c{version}", ModelStatus.CANDIDATE)

    assert ModelVersion.objects.count() == 6


def _stored_recording(patient: Patient, sha: str, key: str) -> Recording:
    return Recording.objects.create(
        patient=patient, kind="cough", status="stored", storage_key=key, size_bytes=10, sha256=sha,
    )  # fmt: skip


def test_a_patient_cannot_have_the_same_stored_bytes_twice():
    patient = PatientFactory()
    _stored_recording(patient, "a" * 64, "k1")

    with pytest.raises(IntegrityError), transaction.atomic():
        _stored_recording(patient, "a" * 64, "k2")


def test_succeeded_diagnostic_needs_a_label_and_confidence_is_a_probability():
    patient = PatientFactory()
    recording = _stored_recording(patient, "b" * 64, "k3")

    with pytest.raises(IntegrityError), transaction.atomic():
        Diagnostic.objects.create(recording=recording, patient=patient, status="succeeded")
    with pytest.raises(IntegrityError), transaction.atomic():
        Diagnostic.objects.create(
            recording=recording, patient=patient, label="healthy", confidence=1.5
        )


def test_audit_events_cannot_be_updated_or_deleted_through_the_orm():
    event = record_event(action="patient.viewed", obj=PatientFactory())

    event.action = "something.else"
    with pytest.raises(AuditLogIsAppendOnly):
        event.save()
    with pytest.raises(AuditLogIsAppendOnly):
        event.delete()
    with pytest.raises(AuditLogIsAppendOnly):
        AuditEvent.objects.filter(pk=event.pk).update(action="x")
    with pytest.raises(AuditLogIsAppendOnly):
        AuditEvent.objects.all().delete()
    assert AuditEvent.objects.get(pk=event.pk).action == "patient.viewed"


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the trigger is PostgreSQL's")
@pytest.mark.parametrize(
    "statement",
    ["UPDATE portal_auditevent SET action = 'x'", "DELETE FROM portal_auditevent"],
)
def test_audit_events_cannot_be_updated_or_deleted_with_raw_sql_on_postgresql(statement):
    record_event(action="patient.viewed", obj=PatientFactory())

    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(statement)
    assert AuditEvent.objects.filter(action="patient.viewed").count() == 1
