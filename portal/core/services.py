"""Every write about patients: creating and editing them, with their research consent.

Each function is one transaction that also writes the audit event. Audit details name the fields
that changed, never their values: the log must not become a second copy of the patient record.
"""

import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from portal.core.audit import AuditContext, record_event
from portal.core.errors import Conflict
from portal.core.models import Patient, Site

EDITABLE_FIELDS = (
    "external_id",
    "given_name",
    "family_name",
    "birth_date",
    "sex",
    "research_consent",
)


class ExternalIdTaken(Conflict):
    """Another patient of the same site already has this external id."""

    code = "external_id_taken"
    field = "external_id"
    default_message = _("Another patient of this site already has this external id.")

    def __init__(self) -> None:
        super().__init__(str(self.default_message))


def create_patient(
    *,
    site: Site,
    actor: AbstractBaseUser,
    external_id: str,
    given_name: str,
    family_name: str,
    birth_date: datetime.date,
    sex: str,
    research_consent: bool = False,
    identifier_system: str = "",
    identifier_value: str = "",
    audit: AuditContext | None = None,
) -> Patient:
    """Register a patient at ``site``; raises ``ValidationError`` or ``ExternalIdTaken``.

    ``identifier_system`` and ``identifier_value`` link the patient to the hospital's record
    (a patient created from it, ``portal.fhir.records``)."""
    patient = Patient(
        site=site,
        external_id=external_id.strip(),
        given_name=given_name.strip(),
        family_name=family_name.strip(),
        birth_date=birth_date,
        sex=sex,
        research_consent=research_consent,
        research_consent_at=timezone.now() if research_consent else None,
        identifier_system=identifier_system.strip(),
        identifier_value=identifier_value.strip(),
        created_by=actor if actor is not None and actor.is_authenticated else None,
    )
    fields = [
        *EDITABLE_FIELDS,
        *(["identifier_system", "identifier_value"] if patient.is_linked else []),
    ]
    _save_checked(patient, action="patient.created", fields=fields, actor=actor, audit=audit)
    return patient


def update_patient(
    *, patient: Patient, actor: AbstractBaseUser | None, audit: AuditContext | None = None,
    action: str = "patient.updated", **changes,
) -> Patient:  # fmt: skip
    """Apply ``changes`` (a subset of ``EDITABLE_FIELDS``) and audit which fields changed
    (as ``action``: the nightly reconciliation with the hospital's record names its own).

    Consent given now is dated now; consent kept keeps its date; consent withdrawn clears it.
    Nothing is written when nothing changed.
    """
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise TypeError(f"update_patient() cannot change {', '.join(sorted(unknown))}")
    for name in ("external_id", "given_name", "family_name"):
        if name in changes:
            changes[name] = changes[name].strip()
    changed = [name for name, value in changes.items() if getattr(patient, name) != value]
    if not changed:
        return patient
    for name in changed:
        setattr(patient, name, changes[name])
    if "research_consent" in changed:
        patient.research_consent_at = timezone.now() if patient.research_consent else None
        changed.append("research_consent_at")
    _save_checked(
        patient,
        action=action,
        fields=changed,
        actor=actor,
        audit=audit,
    )
    return patient


def _save_checked(
    patient: Patient,
    *,
    action: str,
    fields: list[str],
    actor: AbstractBaseUser,
    audit: AuditContext | None,
) -> None:
    # full_clean runs the model's own invariants (birth date not in the future); uniqueness is
    # checked here with the site, which a form does not have, and again by the constraint.
    patient.full_clean(exclude=["site", "created_by"], validate_unique=False,
                       validate_constraints=False)  # fmt: skip
    try:
        with transaction.atomic():
            taken = Patient.objects.filter(site_id=patient.site_id, external_id=patient.external_id)
            if taken.exclude(pk=patient.pk).exists():
                raise ExternalIdTaken
            patient.save()
            record_event(action=action, actor=actor, obj=patient, context=audit,
                         detail={"fields": sorted(fields)})  # fmt: skip
    except IntegrityError:
        # A concurrent save took the external id between the check and the insert.
        if Patient.objects.filter(
            site_id=patient.site_id, external_id=patient.external_id
        ).exists():
            raise ExternalIdTaken from None
        raise
