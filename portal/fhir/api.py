"""The FHIR R4 read API under ``/fhir/R4/``: ``metadata`` (the CapabilityStatement), and read and
search of ``Patient``, ``DiagnosticReport`` and ``Observation``, so an EHR can pull results.

Authenticated like the REST API (a JWT bearer token, or the browser's session), for clinicians
only, scoped by ``portal.core.permissions`` (``selectors``), and audited: every answer that holds
patient data writes one event naming the patients. Answers are ``application/fhir+json``;
failures are an ``OperationOutcome`` with the status the REST API would give (another site's
patient is a 404, exactly as one that does not exist). Searches page newest first, ``_count`` at
a time (at most 200), with a ``next`` link.
"""

from django.urls import reverse
from django.utils import timezone
from rest_framework import exceptions
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from portal.core.audit import AuditContext, record_event
from portal.core.database import as_unavailable, mark_retryable
from portal.core.errors import NotVisible, answer_for, is_domain_failure
from portal.core.rest.access import IsClinician
from portal.fhir import resources, selectors

OUTCOME_CODES = {400: "invalid", 401: "login", 403: "forbidden", 404: "not-found",
                 405: "not-supported", 406: "not-supported", 429: "throttled"}  # fmt: skip


class FhirJsonRenderer(JSONRenderer):
    media_type = "application/fhir+json"
    format = "fhir"


class AlwaysFhirJson(BaseContentNegotiation):
    """FHIR JSON whatever the client accepts (``application/json`` clients read it as JSON)."""

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


def operation_outcome(status: int, code: str, message: str) -> Response:
    outcome = resources.validated({
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": OUTCOME_CODES.get(status, "processing"),
                   "details": {"coding": [{"code": code}], "text": message}}],
    })  # fmt: skip
    return Response(outcome, status=status)


class FhirView(APIView):
    renderer_classes = [FhirJsonRenderer]
    content_negotiation_class = AlwaysFhirJson
    permission_classes = [IsAuthenticated, IsClinician]
    schema = None  # FHIR's own contract is the CapabilityStatement, not the REST API's OpenAPI
    resource_type = ""

    def handle_exception(self, exc):
        unavailable = as_unavailable(exc)  # a lost database connection: 503, tried once more
        if unavailable is not None:
            outcome = operation_outcome(503, unavailable.code, unavailable.message)
            outcome["Retry-After"] = str(unavailable.extra["retry_after"])
            return mark_retryable(outcome)
        if is_domain_failure(exc):
            return operation_outcome(answer_for(exc).http_status, exc.code, exc.message)
        if isinstance(exc, exceptions.APIException):
            response = super().handle_exception(exc)  # keeps WWW-Authenticate, Retry-After
            detail = exc.detail if isinstance(exc.detail, str) else str(exc.default_detail)
            outcome = operation_outcome(response.status_code, exc.default_code, str(detail))
            for header in ("WWW-Authenticate", "Retry-After"):
                if header in response:
                    outcome[header] = response[header]
            return outcome
        return super().handle_exception(exc)

    def audited(self, request, *, patients, detail=None) -> None:
        record_event(
            action="fhir.read", actor=request.user, context=AuditContext.of(request),
            patient=patients[0] if len(patients) == 1 else None,
            detail={"resource": self.resource_type,
                    "patients": sorted({p.pk for p in patients}), **(detail or {})},
        )  # fmt: skip

    def bundle(self, request, rows, page_size: int, to_resources) -> tuple[list, dict]:
        """The page of ``page_size`` rows after the ``_cursor`` (newest first), and its searchset
        with a link to the next page; ``to_resources`` turns a row into its resources."""
        cursor = request.query_params.get("_cursor", "")
        if cursor.isdigit():
            rows = rows.filter(pk__lt=int(cursor))
        page = list(rows.order_by("-pk")[: page_size + 1])
        more, page = len(page) > page_size, page[:page_size]
        base = request.build_absolute_uri(reverse(f"fhir:{self.resource_type}-search"))
        links = [{"relation": "self", "url": request.build_absolute_uri()}]
        if more:
            query = request.query_params.copy()
            query["_cursor"] = str(page[-1].pk)
            links.append({"relation": "next", "url": f"{base}?{query.urlencode()}"})
        entries = [
            {
                "fullUrl": f"{base}/{resource['id']}",
                "resource": resource,
                "search": {"mode": "match"},
            }
            for row in page
            for resource in to_resources(row)
        ]
        return page, resources.validated({
            "resourceType": "Bundle", "type": "searchset", "timestamp": timezone.now().isoformat(),
            "link": links, "entry": entries,
        })  # fmt: skip


class CapabilityStatementView(FhirView):
    """``GET /fhir/R4/metadata``: open to all, as FHIR servers' conformance statements are."""

    permission_classes = [AllowAny]
    authentication_classes = []

    def get(self, request):
        return Response(capability_statement(request))


def capability_statement(request) -> dict:
    def resource(kind: str, params: list[tuple[str, str, str]]) -> dict:
        return {"type": kind, "interaction": [{"code": "read"}, {"code": "search-type"}],
                "searchParam": [{"name": n, "type": t, "documentation": d} for n, t, d in params]}  # fmt: skip

    count = ("_count", "number", "Page size (at most 200).")
    patient = ("patient", "reference", "The patient (Patient/id); another site's is not found.")
    return resources.validated({
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": timezone.now().date().isoformat(),
        "kind": "instance",
        "software": {"name": "Respiratory audio portal"},
        "implementation": {"description": "Read access to results of AI analyses of cough and "
                           "breathing recordings, and their clinicians' reviews.",
                           "url": request.build_absolute_uri(reverse("fhir:metadata"))[: -len("/metadata")]},
        "fhirVersion": resources.FHIR_VERSION,
        "format": ["application/fhir+json"],
        "rest": [{
            "mode": "server",
            "security": {"description": "A bearer JWT from POST /api/v1/auth/token/ (the REST "
                         "API's); only clinicians' patients are visible."},
            "resource": [
                resource("Patient", [("identifier", "token", "system|value, or value."),
                                     ("name", "string", "Any part of the name, from its start."),
                                     count]),
                resource("DiagnosticReport", [patient, count]),
                resource("Observation", [patient, count]),
            ],
        }],
    })  # fmt: skip


class SearchView(FhirView):
    """``GET /fhir/R4/<type>?…``"""

    def get(self, request, resource_type: str):
        self.resource_type = resource_type
        params = request.query_params
        size = selectors.count(params.get("_count", ""))
        if resource_type == "Patient":
            rows = selectors.patients(
                request.user, identifier=params.get("identifier", ""), name=params.get("name", "")
            )
            page, bundle = self.bundle(
                request, rows, size, lambda p: [resources.patient_resource(p)]
            )
            self.audited(request, patients=page)
            return Response(bundle)
        named = params.get("patient") or params.get("subject")
        patient = selectors.patient_of_search(request.user, named) if named else None
        rows = selectors.reports(request.user, patient=patient)
        build = (
            (lambda d: [selectors.report_resource(d)])
            if resource_type == "DiagnosticReport"
            else selectors.observation_resources
        )
        page, bundle = self.bundle(request, rows, size, build)
        self.audited(request, patients=[patient] if patient else [d.patient for d in page])
        return Response(bundle)


class ReadView(FhirView):
    """``GET /fhir/R4/<type>/<id>``"""

    def get(self, request, resource_type: str, pk: int, part: str = ""):
        self.resource_type = resource_type
        if resource_type == "Patient":
            patient = selectors.patient(request.user, pk)
            resource = resources.patient_resource(patient)
        else:
            diagnostic = selectors.report(request.user, pk, what=resource_type)
            patient = diagnostic.patient
            if resource_type == "DiagnosticReport":
                resource = selectors.report_resource(diagnostic)
            else:
                found = selectors.observation_resources(diagnostic, part)
                if not found:  # not reviewed (yet): no such observation
                    raise NotVisible("Observation")
                resource = found[0]
        self.audited(request, patients=[patient], detail={"id": resource["id"]})
        return Response(resource)


class UnsupportedView(FhirView):
    """Any other path under ``/fhir/R4/``: a FHIR answer, not the site's HTML 404 page."""

    permission_classes = [AllowAny]
    authentication_classes = []

    def get(self, request, **kwargs):
        return operation_outcome(404, "not_supported", "This resource type is not served here.")
