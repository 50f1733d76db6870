"""The product's records as FHIR R4 resources: one builder per resource, for the push to the
hospital's server and the read API alike (they differ only in the references they are given).

Every resource is validated against ``fhir.resources`` (its ``R4B`` package: FHIR 4.3, the R4
line's last release, whose resources here are R4's) before it leaves: a builder that drifts from
the specification fails loudly, in tests, instead of at the hospital.
"""

from dataclasses import dataclass, field

from diagnostics.models import Diagnostic, Label, ModelVersion
from media_assets.models import Recording
from portal.core.models import Patient
from portal.fhir import codes

FHIR_VERSION = "4.0.1"  # what the CapabilityStatement declares: the resources here are R4's
AUDIO_MEDIA_TYPE = {
    "coding": [{"system": "http://terminology.hl7.org/CodeSystem/media-type", "code": "audio"}]
}


class InvalidResource(ValueError):
    """A builder made a resource the specification refuses (a bug here, never the user's)."""


def validated(resource: dict) -> dict:
    """``resource`` unchanged, once ``fhir.resources`` has accepted it."""
    # Imported here: its pydantic models take 0.15 s to import, and every process loads this
    # module (the app connects its signals), most without ever delivering to a record.
    from fhir.resources.R4B import get_fhir_model_class

    model = get_fhir_model_class(resource["resourceType"])
    try:
        model.model_validate(resource)
    except ValueError as invalid:  # pydantic's ValidationError is a ValueError
        raise InvalidResource(f"{resource['resourceType']}: {invalid}") from invalid
    return resource


def _instant(value) -> str | None:
    return value.isoformat() if value else None


def _clean(resource: dict) -> dict:
    """Without empty members: FHIR forbids empty strings, lists and objects."""
    return {key: value for key, value in resource.items() if value not in (None, "", [], {})}


@dataclass
class Refs:
    """What the resources of one diagnostic point at: the push gives the hospital server's ids,
    the read API this product's own."""

    subject: dict
    device: dict | None = None
    media: dict | None = None
    result: dict | None = None
    review: dict | None = None
    extra: dict = field(default_factory=dict)


def hospital_identifier(patient: Patient) -> dict | None:
    if not patient.is_linked:
        return None
    return {
        "use": "official",
        **codes.identifier(patient.identifier_system, patient.identifier_value),
    }


def patient_resource(patient: Patient) -> dict:
    """The local patient, for the read API (``id`` is the local one)."""
    identifiers = [hospital_identifier(patient), codes.identifier(codes.PATIENT_ID, patient.pk)]
    return validated(_clean({
        "resourceType": "Patient",
        "id": str(patient.pk),
        "identifier": [i for i in identifiers if i],
        "name": [{"use": "official", "family": patient.family_name, "given": [patient.given_name]}],
        "gender": patient.sex,  # the same four values as FHIR's administrative gender
        "birthDate": patient.birth_date.isoformat(),
    }))  # fmt: skip


def device_resource(version: ModelVersion, *, id: str | None = None) -> dict:
    """A model version as the Device that produced a finding: name, version and artifact."""
    return validated(_clean({
        "resourceType": "Device",
        "id": id,
        "identifier": [codes.identifier(codes.DEVICE_ID, version.pk)],
        "status": "active",
        "deviceName": [{"name": f"{version.name} {version.version}", "type": "model-name"}],
        "modelNumber": version.name,
        "version": [{"value": version.version}],
        "property": [
            {"type": codes.concept(codes.OBSERVATION_KIND, "model-artifact", codes.KINDS),
             "valueCode": [{"text": f"{version.artifact} sha256:{version.sha256}"}]},
            {"type": codes.concept(codes.OBSERVATION_KIND, "training-data", codes.KINDS),
             "valueCode": [{"text": version.trained_on}]},
        ],
        "note": [{"text": "Trained on synthetic sounds: not for clinical use."}]
        if version.is_synthetic else None,
    }))  # fmt: skip


def media_resource(recording: Recording, refs: Refs, *, id: str | None = None) -> dict:
    """The recording the finding was made from (its metadata; the audio stays in the product)."""
    return validated(_clean({
        "resourceType": "Media",
        "id": id,
        "identifier": [codes.identifier(codes.MEDIA_ID, recording.pk)],
        "status": "completed",
        "type": AUDIO_MEDIA_TYPE,
        "subject": refs.subject,
        "createdDateTime": _instant(recording.created_at),
        "duration": round(recording.duration_s, 3) if recording.duration_s else None,
        "content": {"contentType": recording.content_type or "audio/wav",
                    "size": recording.size_bytes, "title": recording.kind},
    }))  # fmt: skip


def model_finding(diagnostic: Diagnostic) -> str:
    """What the model's result says, before any review (inconclusive past the quality gate)."""
    return Label.INCONCLUSIVE if diagnostic.quality_gate else diagnostic.label


def report_status(diagnostic: Diagnostic) -> str:
    """``amended`` once a reviewer decided otherwise than the result said, else ``final``."""
    reviewed = diagnostic.review_label
    return "amended" if reviewed and reviewed != model_finding(diagnostic) else "final"


def result_observation(diagnostic: Diagnostic, refs: Refs, *, id: str | None = None) -> dict:
    """The model's finding: label, probability, the model (Device) and the recording (Media)."""
    components = [
        {"code": codes.concept(codes.OBSERVATION_KIND, "probability", codes.KINDS),
         "valueQuantity": {"value": diagnostic.confidence, "unit": "1", "system": codes.UCUM,
                           "code": "1"}},
        {"code": codes.concept(codes.OBSERVATION_KIND, "model-label", codes.KINDS),
         "valueCodeableConcept": codes.concept(codes.FINDING, diagnostic.label, codes.FINDINGS)},
    ]  # fmt: skip
    if diagnostic.quality_gate:
        components.append({
            "code": codes.concept(codes.OBSERVATION_KIND, "quality-gate", codes.KINDS),
            "valueString": diagnostic.quality_gate,
        })  # fmt: skip
    return validated(_clean({
        "resourceType": "Observation",
        "id": id,
        "identifier": [codes.identifier(codes.RESULT_ID, diagnostic.pk)],
        "status": "final",
        "code": codes.concept(codes.OBSERVATION_KIND, "model-finding", codes.KINDS),
        "subject": refs.subject,
        "effectiveDateTime": _instant(diagnostic.recording.created_at),
        "issued": _instant(diagnostic.finished_at),
        "valueCodeableConcept": codes.concept(
            codes.FINDING, model_finding(diagnostic), codes.FINDINGS
        ),
        "device": refs.device,
        "derivedFrom": [refs.media] if refs.media else None,
        "component": components,
    }))  # fmt: skip


def reviewer(diagnostic: Diagnostic) -> dict | None:
    """The reviewer as a logical reference (the product does not push its users)."""
    user = diagnostic.reviewed_by
    if user is None:
        return None
    return {"identifier": codes.identifier(codes.USER_ID, user.pk),
            "display": user.get_full_name() or user.get_username()}  # fmt: skip


def review_observation(diagnostic: Diagnostic, refs: Refs, *, id: str | None = None) -> dict:
    """The clinician's decision, with its performer; it replaces an earlier review's."""
    performer = reviewer(diagnostic)
    return validated(_clean({
        "resourceType": "Observation",
        "id": id,
        "identifier": [codes.identifier(codes.REVIEW_ID, diagnostic.pk)],
        "status": "final",
        "code": codes.concept(codes.OBSERVATION_KIND, "review-decision", codes.KINDS),
        "subject": refs.subject,
        "effectiveDateTime": _instant(diagnostic.reviewed_at),
        "issued": _instant(diagnostic.reviewed_at),
        "performer": [performer] if performer else None,
        "valueCodeableConcept": codes.concept(
            codes.FINDING, diagnostic.review_label, codes.FINDINGS
        ),
        "derivedFrom": [refs.result] if refs.result else None,
        "note": [{"text": diagnostic.review_note}] if diagnostic.review_note else None,
    }))  # fmt: skip


def diagnostic_report(diagnostic: Diagnostic, refs: Refs, *, id: str | None = None) -> dict:
    """The report: the finding and the review as results, the recording as media, and the
    conclusion the clinician sees (the review's label once reviewed)."""
    shown = diagnostic.review_label or model_finding(diagnostic)
    performer = reviewer(diagnostic) if diagnostic.review_label else None
    return validated(_clean({
        "resourceType": "DiagnosticReport",
        "id": id,
        "identifier": [codes.identifier(codes.REPORT_ID, diagnostic.pk)],
        "status": report_status(diagnostic),
        "code": codes.concept(codes.OBSERVATION_KIND, "audio-analysis", codes.KINDS),
        "subject": refs.subject,
        "effectiveDateTime": _instant(diagnostic.recording.created_at),
        "issued": _instant(diagnostic.reviewed_at or diagnostic.finished_at),
        "resultsInterpreter": [performer] if performer else None,
        "result": [ref for ref in (refs.result, refs.review) if ref],
        "media": [{"link": refs.media, "comment": diagnostic.recording.kind}] if refs.media else None,
        "conclusion": codes.FINDINGS[shown],
        "conclusionCode": [codes.concept(codes.FINDING, shown, codes.FINDINGS)],
    }))  # fmt: skip
