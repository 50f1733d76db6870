"""Routes of the FHIR R4 read API under ``/fhir/R4/`` (namespace ``fhir``)."""

from django.urls import path

from portal.fhir import api

app_name = "fhir"

urlpatterns = [
    path("metadata", api.CapabilityStatementView.as_view(), name="metadata"),
    *(
        path(kind, api.SearchView.as_view(), {"resource_type": kind}, name=f"{kind}-search")
        for kind in ("Patient", "DiagnosticReport", "Observation")
    ),
    path("Patient/<int:pk>", api.ReadView.as_view(), {"resource_type": "Patient"},
         name="Patient-read"),
    path("DiagnosticReport/<int:pk>", api.ReadView.as_view(),
         {"resource_type": "DiagnosticReport"}, name="DiagnosticReport-read"),
    # An Observation's id is its diagnostic's and which of its two it is.
    path("Observation/<int:pk>-finding", api.ReadView.as_view(),
         {"resource_type": "Observation", "part": "finding"}, name="Observation-finding"),
    path("Observation/<int:pk>-review", api.ReadView.as_view(),
         {"resource_type": "Observation", "part": "review"}, name="Observation-review"),
    # Any other resource type, or id: a FHIR answer, not the site's HTML 404 page.
    path("<str:resource_type>", api.UnsupportedView.as_view(), name="unsupported"),
    path("<str:resource_type>/<str:resource_id>", api.UnsupportedView.as_view()),
]  # fmt: skip
