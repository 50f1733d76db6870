"""Patients from the hospital's record: search it, create the local patient from a chosen record
(its identifier kept, so the patient is linked), and reconcile linked patients' names and birth
dates every night.

The hospital's identifier system for patients is ``FHIR_PATIENT_IDENTIFIER_SYSTEM`` (its medical
record number's URI): a record without an identifier of that system cannot be linked, and is not
offered.
"""

import datetime
import logging
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from portal.core import services
from portal.core.audit import AuditContext
from portal.core.errors import Invalid
from portal.core.models import Patient, Sex, Site
from portal.fhir import codes
from portal.fhir.client import FhirClient, RecordRefused, RecordUnavailable, configured

logger = logging.getLogger("portal.fhir")

SEARCH_LIMIT = 20
RECONCILED_FIELDS = ("given_name", "family_name", "birth_date")


class NotLinkable(Invalid):
    code = "record_not_linkable"
    default_message = _("This record has no identifier, name or birth date the portal can use.")


@dataclass(frozen=True)
class Record:
    """A patient of the hospital's record, as the portal would keep it."""

    id: str
    identifier_system: str
    identifier_value: str
    given_name: str
    family_name: str
    birth_date: datetime.date
    sex: str


def _name(resource: dict) -> dict:
    names = resource.get("name") or [{}]
    return next((n for n in names if n.get("use") == "official"), names[0])


def record_of(resource: dict) -> Record | None:
    """The record a FHIR Patient is, or None when it cannot make a linked local patient."""
    system = settings.FHIR_PATIENT_IDENTIFIER_SYSTEM
    value = next(
        (i.get("value") for i in resource.get("identifier", []) if i.get("system") == system),
        None,
    )
    name = _name(resource)
    try:
        born = datetime.date.fromisoformat(resource.get("birthDate", ""))
    except ValueError:
        return None
    family, given = name.get("family", ""), " ".join(name.get("given", []))
    if not (value and family and given and resource.get("id")):
        return None
    sex = resource.get("gender", Sex.UNKNOWN)
    return Record(
        id=resource["id"], identifier_system=system, identifier_value=value[:64],
        given_name=given[:150], family_name=family[:150], birth_date=born,
        sex=sex if sex in Sex.values else Sex.UNKNOWN,
    )  # fmt: skip


def search_records(*, identifier: str = "", name: str = "") -> list[Record]:
    """Patients of the hospital's record with this identifier (in the hospital's system), or
    whose name matches ``name`` (the server's own name search), at most ``SEARCH_LIMIT``."""
    params: dict = {"_count": SEARCH_LIMIT}
    if identifier.strip():
        params["identifier"] = f"{settings.FHIR_PATIENT_IDENTIFIER_SYSTEM}|{identifier.strip()}"
    else:
        params["name"] = name.strip()
    found = FhirClient().search("Patient", params)
    return [record for record in map(record_of, found[:SEARCH_LIMIT]) if record]


def create_from_record(
    *, site: Site, actor, record_id: str, audit: AuditContext | None = None
) -> Patient:
    """The local patient made from the record ``record_id``, read again from the server (the
    browser only says which one): its identifier becomes the external id and the link."""
    if not record_id or "/" in record_id:
        raise NotLinkable()
    record = record_of(FhirClient().read("Patient", record_id))
    if record is None:
        raise NotLinkable()
    return services.create_patient(
        site=site, actor=actor, external_id=record.identifier_value,
        given_name=record.given_name, family_name=record.family_name,
        birth_date=record.birth_date, sex=record.sex,
        identifier_system=record.identifier_system, identifier_value=record.identifier_value,
        audit=audit,
    )  # fmt: skip


def reconcile_linked_patients() -> int:
    """Bring linked patients' names and birth dates in line with the record (each change
    audited as ``patient.reconciled``, naming the fields); how many patients changed.

    A record that is missing, ambiguous or unusable leaves its patient as it is. A server that
    cannot be reached ends the run: the next night's goes on from the start.
    """
    if not configured():
        return 0
    client, changed = FhirClient(), 0
    linked = Patient.objects.exclude(identifier_value="").order_by("pk")
    for patient in linked.iterator(chunk_size=200):
        ident = codes.identifier(patient.identifier_system, patient.identifier_value)
        try:
            found = client.search("Patient", {"identifier": codes.token(ident), "_count": 2})
        except RecordUnavailable:
            logger.warning("reconciliation stopped: the record cannot be reached")
            break
        except RecordRefused:
            continue
        record = record_of(found[0]) if len(found) == 1 else None
        if record is None:
            continue
        before = patient.updated_at
        try:
            services.update_patient(
                patient=patient, actor=None, action="patient.reconciled",
                **{name: getattr(record, name) for name in RECONCILED_FIELDS},
            )  # fmt: skip
        except ValidationError:
            continue  # the record's birth date is in the future: a person will look at it
        changed += patient.updated_at != before
    logger.info("patients reconciled with the record", extra={"changed": changed})
    return changed
