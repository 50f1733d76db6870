"""Diagnostics over REST: the polling fallback for live results (with ETag) and retry."""

import hashlib
import json

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from diagnostics import live
from diagnostics.services import retry_diagnostic
from portal import permissions
from portal.api_errors import ApiError
from portal.audit import record_event


def visible_diagnostic(user, pk: int):
    diagnostic = (
        permissions.diagnostics_for(user)
        .select_related("model_version", "patient")
        .filter(pk=pk)
        .first()
    )
    if diagnostic is None:
        raise ApiError(404, "not_found", "Diagnostic not found.")
    return diagnostic


def etag_of(body: dict) -> str:
    return '"' + hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:32] + '"'


class DiagnosticDetailView(APIView):
    """``GET /api/v1/diagnostics/{id}/``: the live-status message, with ETag/If-None-Match."""

    @extend_schema(responses={200: dict, 304: None})
    def get(self, request, pk: int):
        diagnostic = visible_diagnostic(request.user, pk)
        body = live.status_message(diagnostic)
        etag = etag_of(body)
        if etag in [tag.strip() for tag in request.headers.get("If-None-Match", "").split(",")]:
            return Response(status=304, headers={"ETag": etag})
        record_event(
            action="diagnostic.viewed", actor=request.user, obj=diagnostic,
            patient=diagnostic.patient, request=request,
        )  # fmt: skip
        return Response(body, headers={"ETag": etag, "Cache-Control": "private, no-cache"})


class DiagnosticRetryView(APIView):
    """``POST /api/v1/diagnostics/{id}/retry/``: send a failed diagnostic back to the queue."""

    @extend_schema(request=None, responses={202: dict})
    def post(self, request, pk: int):
        diagnostic = visible_diagnostic(request.user, pk)
        diagnostic = retry_diagnostic(diagnostic=diagnostic, user=request.user, request=request)
        return Response(live.status_message(diagnostic), status=202)
