"""Routes of the FHIR R4 read API under ``/fhir/R4/`` (namespace ``fhir``)."""

from django.urls import path, re_path

from portal.fhir import api

app_name = "fhir"

TYPES = r"(?P<resource_type>Patient|DiagnosticReport|Observation)"

urlpatterns = [
    path("metadata", api.CapabilityStatementView.as_view(), name="metadata"),
    re_path(rf"^{TYPES}$", api.SearchView.as_view(), name="search"),
    re_path(
        rf"^{TYPES}/(?P<resource_id>[A-Za-z0-9\-.]{{1,64}})$", api.ReadView.as_view(), name="read"
    ),
    re_path(r"^.*$", api.UnsupportedView.as_view(), name="unsupported"),
]
