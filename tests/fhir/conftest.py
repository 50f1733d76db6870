"""The hospital's record for the FHIR tests: a loopback FHIR server, and a patient linked to it."""

import pytest

from tests.diagnostics.conftest import empty_broker  # noqa: F401 - fixture
from tests.fhir.loopback import LoopbackFhirServer

HOSPITAL = "urn:oid:2.16.840.1.113883.19.5"


@pytest.fixture
def fhir_server(settings):
    """A FHIR server on a free loopback port, configured as the hospital's record."""
    server = LoopbackFhirServer().start()
    settings.FHIR_BASE_URL = server.url
    settings.FHIR_TOKEN = ""
    settings.FHIR_TOKEN_URL = ""
    settings.FHIR_PATIENT_IDENTIFIER_SYSTEM = HOSPITAL
    yield server
    server.stop()


def record_patient(server, *, mrn="MRN-4711", family="Okafor", given="Ada", born="1961-04-12"):
    """A patient as the hospital's record has it."""
    return server.add({
        "resourceType": "Patient",
        "identifier": [{"system": HOSPITAL, "value": mrn}],
        "name": [{"use": "official", "family": family, "given": [given]}],
        "gender": "female", "birthDate": born,
    })  # fmt: skip


@pytest.fixture
def linked_patient(site):
    from tests.factories import PatientFactory

    return PatientFactory(site=site, identifier_system=HOSPITAL, identifier_value="MRN-4711",
                          external_id="MRN-4711")  # fmt: skip
