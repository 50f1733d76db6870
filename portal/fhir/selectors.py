"""What the FHIR read API may show a user: the same querysets as every other surface
(``portal.core.permissions``), shaped as the FHIR resources' own ids and references here."""

from django.db.models import QuerySet

from diagnostics.models import Diagnostic, DiagnosticStatus
from portal.core import permissions
from portal.core.errors import Invalid, NotVisible
from portal.core.models import Patient
from portal.fhir import codes, resources

FINDING, REVIEW = "finding", "review"  # an Observation's id: "<diagnostic id>-finding"


def patients(user, *, identifier: str = "", name: str = "") -> QuerySet[Patient]:
    """The user's patients, searched by ``identifier`` (``system|value``, ``|value`` or
    ``value``: the hospital's identifier, the product's id or the external id) and ``name``."""
    found = permissions.patients_for(user).select_related("site")
    if identifier:
        system, _, value = identifier.rpartition("|")
        if system == codes.PATIENT_ID:
            found = found.filter(pk=int(value)) if value.isdigit() else found.none()
        elif system:
            found = found.filter(identifier_system=system, identifier_value=value)
        else:
            found = found.filter(identifier_value=value) | found.filter(external_id=value)
    if name:
        found = found.search(name)
    return found


def patient(user, pk: int) -> Patient:
    return permissions.visible_patient(user, pk)


def patient_of_search(user, value: str) -> Patient:
    """The patient a ``patient=`` or ``subject=`` parameter names (``123`` or ``Patient/123``):
    another site's patient is as missing as one that does not exist."""
    pk = value.removeprefix("Patient/")
    if not pk.isdigit():
        raise NotVisible("Patient")
    return patient(user, int(pk))


def reports(user, *, patient: Patient | None = None) -> QuerySet[Diagnostic]:
    """Results the user may see (finished ones only: a report is a result), newest first."""
    found = permissions.restrict(
        Diagnostic.objects.filter(status=DiagnosticStatus.SUCCEEDED), user
    ).select_related("patient", "recording", "model_version", "reviewed_by")
    if patient is not None:
        found = found.filter(patient=patient)
    return found.order_by("-pk")


def report(user, pk: int, *, what: str = "DiagnosticReport") -> Diagnostic:
    """One finished result the user may see (``what`` names it when it is not found)."""
    found = reports(user).filter(pk=pk).first()
    if found is None:
        raise NotVisible(what)
    return found


def refs(diagnostic: Diagnostic) -> resources.Refs:
    """This product's references: its own ids for what the API serves, identifiers for the rest."""
    version = diagnostic.model_version
    return resources.Refs(
        subject={"reference": f"Patient/{diagnostic.patient_id}"},
        device={
            "identifier": codes.identifier(codes.DEVICE_ID, version.pk),
            "display": str(version),
        },
        media={"identifier": codes.identifier(codes.MEDIA_ID, diagnostic.recording_id)},
        result={"reference": f"Observation/{diagnostic.pk}-{FINDING}"},
        review={"reference": f"Observation/{diagnostic.pk}-{REVIEW}"}
        if diagnostic.review_label
        else None,
    )


def report_resource(diagnostic: Diagnostic) -> dict:
    return resources.diagnostic_report(diagnostic, refs(diagnostic), id=str(diagnostic.pk))


def observation_resources(diagnostic: Diagnostic, part: str | None = None) -> list[dict]:
    """The model's finding and, once reviewed, the review (or only ``part``)."""
    found = []
    if part in (None, FINDING):
        found.append(resources.result_observation(
            diagnostic, refs(diagnostic), id=f"{diagnostic.pk}-{FINDING}"
        ))  # fmt: skip
    if part in (None, REVIEW) and diagnostic.review_label:
        found.append(resources.review_observation(
            diagnostic, refs(diagnostic), id=f"{diagnostic.pk}-{REVIEW}"
        ))  # fmt: skip
    return found


def count(value: str, *, default: int = 50, most: int = 200) -> int:
    """The ``_count`` parameter, bounded."""
    if not value:
        return default
    if not value.isdigit() or int(value) < 1:
        raise Invalid("_count must be a positive whole number.", code="invalid_count")
    return min(int(value), most)
