"""Diagnostics over REST: the list (filters, cursor pages), the detail that is the polling fallback
for live results (ETag and Last-Modified, answered 304 when unchanged), a patient's pending results
(what a live page reconciles with, by ETag), review and retry; and the model registry
(``GET /api/v1/models/``).

Everything is scoped by ``portal.core.permissions`` (a diagnostic of another site is a 404) and every
read of patient data is audited.
"""

from drf_spectacular.utils import extend_schema
from rest_framework import generics
from rest_framework.response import Response
from rest_framework.views import APIView

from diagnostics import live
from diagnostics.filters import DiagnosticFilter, ModelVersionFilter
from diagnostics.models import Diagnostic, DiagnosticStatus, ModelVersion
from diagnostics.reviews import review_diagnostic
from diagnostics.selectors import diagnostics_for, visible_diagnostic
from diagnostics.serializers import (
    DiagnosticDetailSerializer,
    DiagnosticSerializer,
    ModelVersionSerializer,
    PendingResultsSerializer,
    ReviewSerializer,
)
from diagnostics.services import retry_diagnostic
from portal.core import permissions
from portal.core.audit import AuditContext, record_event
from portal.core.rest.access import IsSiteMember
from portal.core.rest.conditional import conditional_response
from portal.core.rest.pagination import IdCursorPagination


def detail_body(diagnostic: Diagnostic) -> dict:
    """The live status message (``diagnostics.live``), the model's provenance and the review."""
    version = diagnostic.model_version
    return {
        **live.status_message(diagnostic),
        "model": version.provenance() if version else None,
        "review_label": diagnostic.review_label or None,
        "review_note": diagnostic.review_note,
        "reviewed_at": diagnostic.reviewed_at.isoformat() if diagnostic.reviewed_at else None,
    }


def last_modified(diagnostic: Diagnostic):
    """When the body last changed, or None while it is queued: its queue position changes with
    other diagnostics' progress, which no timestamp of its own records (the ETag still does)."""
    if diagnostic.status == DiagnosticStatus.QUEUED:
        return None
    moments = [diagnostic.queued_at, diagnostic.started_at, diagnostic.finished_at,
               diagnostic.reviewed_at]  # fmt: skip
    return max(m for m in moments if m is not None)


class DiagnosticListView(generics.ListAPIView):
    """``GET /api/v1/diagnostics/``: newest first, by cursor."""

    serializer_class = DiagnosticSerializer
    pagination_class = IdCursorPagination
    filterset_class = DiagnosticFilter

    def get_queryset(self):
        return diagnostics_for(self.request.user).select_related("model_version", "recording")

    def list(self, request, *args, **kwargs):
        response = super().list(request, *args, **kwargs)
        rows = response.data["results"]
        record_event(
            action="diagnostic.listed", actor=request.user, context=AuditContext.of(request),
            detail={"diagnostics": [row["id"] for row in rows],
                    "patients": sorted({row["patient"] for row in rows})},
        )  # fmt: skip
        return response


class DiagnosticDetailView(APIView):
    """``GET /api/v1/diagnostics/{id}/``: the live-status message, with conditional GET."""

    @extend_schema(responses={200: DiagnosticDetailSerializer, 304: None})
    def get(self, request, pk: int):
        diagnostic = visible_diagnostic(request.user, pk)
        return conditional_response(
            request, detail_body(diagnostic), last_modified=last_modified(diagnostic),
            on_send=lambda: record_event(
                action="diagnostic.viewed", actor=request.user, obj=diagnostic,
                patient=diagnostic.patient, context=AuditContext.of(request),
            ),
        )  # fmt: skip


RECENT_RESULTS = 20  # as many as a page's socket sends on connect (diagnostics.consumers)


def pending_body(patient) -> dict:
    """The patient's queued and running diagnostics, and the most recent ones, by id and status
    only: a queue position would change the body (and its ETag) at every analysis."""
    diagnostics = Diagnostic.objects.filter(patient=patient)
    pending = diagnostics.filter(status__in=(DiagnosticStatus.QUEUED, DiagnosticStatus.RUNNING))
    return {
        "patient": patient.pk,
        "pending": list(pending.order_by("id").values("id", "status")),
        "recent": list(diagnostics.order_by("-id").values("id", "status")[:RECENT_RESULTS]),
    }


class PatientPendingResultsView(APIView):
    """``GET /api/v1/patients/{id}/pending/``: what a live page reconciles with whenever it may
    have missed a message; 304 while nothing changed."""

    @extend_schema(responses={200: PendingResultsSerializer, 304: None})
    def get(self, request, pk: int):
        patient = permissions.visible_patient(request.user, pk)
        return conditional_response(
            request, pending_body(patient), last_modified=None,
            on_send=lambda: record_event(
                action="patient.pending_viewed", actor=request.user, obj=patient,
                context=AuditContext.of(request),
            ),
        )  # fmt: skip


class DiagnosticReviewView(APIView):
    """``POST /api/v1/diagnostics/{id}/review/``: confirm, correct or mark inconclusive."""

    @extend_schema(request=ReviewSerializer, responses={200: DiagnosticDetailSerializer})
    def post(self, request, pk: int):
        diagnostic = visible_diagnostic(request.user, pk)
        params = ReviewSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        diagnostic = review_diagnostic(
            diagnostic=diagnostic,
            actor=request.user,
            audit=AuditContext.of(request),
            **params.validated_data,
        )
        return Response(detail_body(diagnostic))


class DiagnosticRetryView(APIView):
    """``POST /api/v1/diagnostics/{id}/retry/``: send a failed diagnostic back to the queue."""

    @extend_schema(request=None, responses={202: DiagnosticDetailSerializer})
    def post(self, request, pk: int):
        diagnostic = visible_diagnostic(request.user, pk)
        diagnostic = retry_diagnostic(
            diagnostic=diagnostic, actor=request.user, audit=AuditContext.of(request)
        )
        return Response(detail_body(diagnostic), status=202)


class ModelVersionListView(generics.ListAPIView):
    """``GET /api/v1/models/``: the model registry, for clinicians and researchers alike."""

    permission_classes = [IsSiteMember]
    serializer_class = ModelVersionSerializer
    pagination_class = IdCursorPagination
    filterset_class = ModelVersionFilter
    queryset = ModelVersion.objects.all()
