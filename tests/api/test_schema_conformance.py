"""Schemathesis against the live schema, in process (WSGI): no 5xx, and every response (its status,
content type, headers and body) as the OpenAPI document says. Bounded and deterministic: at most
``MAX_EXAMPLES`` generated requests per operation, derandomised, so CI runs the same cases each time.

Clinicians exercise every operation with a JWT; researchers with a data-use agreement exercise the
research operations as well, so the streamed exports are generated against too. Path ids are drawn
partly from objects that exist, so the 200 answers are checked as well as the 404s.
"""

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from portal.core.rest.authentication import StampedAccessToken
from tests.api.research_data import seed_cohort
from tests.factories import PatientFactory
from tests.factories_clinical import DiagnosticFactory, failed, succeeded

pytestmark = pytest.mark.django_db

MAX_EXAMPLES = 20
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


def _existing_ids(site) -> dict[str, list[int]]:
    """Objects of the user's site whose ids the generated paths may name."""
    cohort = seed_cohort(site)
    patient = PatientFactory(site=site, research_consent=True, research_consent_at=timezone.now())
    diagnostics = [
        succeeded(recording__patient=patient),
        failed(recording__patient=patient),
        DiagnosticFactory(recording__patient=patient),
        *cohort.diagnostics,
    ]
    return {
        "patients": [patient.pk, *(p.pk for p in cohort.consenting)],
        "diagnostics": [d.pk for d in diagnostics],
        "recordings": [d.recording_id for d in diagnostics],
    }


def _schema_with_known_ids(ids: dict[str, list[int]]):
    schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", get_wsgi_application())

    @schema.hook
    def flatmap_path_parameters(context, path_parameters):
        if not path_parameters or "id" not in path_parameters:
            return st.just(path_parameters)
        path = context.operation.path
        kind = next((k for k in ("patients", "diagnostics") if f"/{k}/" in path), "recordings")
        known = [{**path_parameters, "id": pk} for pk in ids[kind]]
        return st.sampled_from([path_parameters, *known])

    return schema


@pytest.fixture
def in_process_requests_keep_the_test_connection():
    """The WSGI handler closes the database connection after each request (close_old_connections),
    which would end the test's transaction; Django's test client disconnects it the same way."""
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    yield
    for signal in (request_started, request_finished):
        signal.connect(close_old_connections)


@pytest.fixture
def api_schema(site, in_process_requests_keep_the_test_connection):
    return _schema_with_known_ids(_existing_ids(site))


schema = schemathesis.pytest.from_fixture("api_schema")
HYPOTHESIS = settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)


@schema.parametrize()
@HYPOTHESIS
def test_every_operation_answers_as_documented_for_a_clinician(case, clinician):
    case.call_and_validate(
        headers={"Authorization": f"Bearer {StampedAccessToken.for_user(clinician)}"}, checks=CHECKS
    )


@schema.include(path_regex="^/api/v1/research/").parametrize()
@HYPOTHESIS
def test_research_operations_answer_as_documented_for_a_researcher(case, agreement_researcher):
    case.call_and_validate(
        headers={"Authorization": f"Bearer {StampedAccessToken.for_user(agreement_researcher)}"},
        checks=CHECKS,
    )
