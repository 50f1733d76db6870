"""The research endpoints: the export, audio links, and the download behind a local-storage link."""

from django.core.files.storage import default_storage
from django.http import FileResponse
from django.views.decorators.http import require_safe
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.generics import GenericAPIView
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from diagnostics.models import Diagnostic
from portal.core import permissions
from portal.core.audit import AuditContext, record_event
from portal.core.errors import Forbidden, NotVisible, Unavailable
from portal.core.rest.access import IsResearcher
from portal.core.rest.errors import error_response
from portal.core.storage import STORAGE_ERRORS
from portal.research import audio
from portal.research.export import export_response
from portal.research.filters import ResearchDiagnosticFilter
from portal.research.selectors import (
    DATASETS,
    LIMITED,
    SAFE_HARBOR,
    research_diagnostics,
    research_recording,
)
from portal.research.writers import FORMATS

NO_AGREEMENT = (
    "The limited data set (dates and audio) needs a current data-use agreement on your "
    "researcher membership."
)


class _FormatIsAParameter(DefaultContentNegotiation):
    """``?format=`` chooses the export format here, not a DRF renderer; errors are JSON."""

    def select_renderer(self, request, renderers, format_suffix=None):
        renderer = next(r for r in renderers if isinstance(r, JSONRenderer))
        return renderer, renderer.media_type


class ExportParameters(serializers.Serializer):
    format = serializers.ChoiceField(choices=list(FORMATS), default="csv")
    dataset = serializers.ChoiceField(choices=list(DATASETS), default=SAFE_HARBOR)


def _require_agreement(user, site=None) -> None:
    """A current data-use agreement, at ``site`` if one is named, else at any research site."""
    sites = permissions.limited_data_set_sites(user)
    if site is not None:
        sites = sites.filter(pk=site.pk)
    if not sites.exists():
        raise Forbidden(NO_AGREEMENT, code="data_use_agreement_required")


class ResearchDiagnosticExportView(GenericAPIView):
    """``GET /api/v1/research/diagnostics/``: de-identified diagnostics of consenting patients."""

    permission_classes = [IsResearcher]
    content_negotiation_class = _FormatIsAParameter
    filter_backends = [DjangoFilterBackend]
    filterset_class = ResearchDiagnosticFilter
    throttle_scope = "research_export"
    queryset = Diagnostic.objects.none()  # replaced per request; names the model for the schema

    def get_queryset(self):
        return research_diagnostics(self.request.user, getattr(self, "dataset", SAFE_HARBOR))

    @extend_schema(
        operation_id="research_diagnostics_export",
        filters=True,
        parameters=[
            OpenApiParameter("format", str, enum=list(FORMATS), default="csv"),
            OpenApiParameter("site", str, description="A site code (of your research sites)."),
            OpenApiParameter(
                "dataset",
                str,
                enum=list(DATASETS),
                default=SAFE_HARBOR,
                description="'limited' (dates to the day, audio links) needs a data-use agreement.",
            ),
        ],
        responses={
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="CSV, with header"),
            (200, "application/x-ndjson"): OpenApiResponse(OpenApiTypes.STR),
            (200, "application/vnd.apache.parquet"): OpenApiResponse(OpenApiTypes.BINARY),
        },
    )
    def get(self, request):
        params = ExportParameters(data=request.query_params)
        params.is_valid(raise_exception=True)
        self.dataset = params.validated_data["dataset"]
        if self.dataset == LIMITED:
            _require_agreement(request.user)
        filterset = self.filterset_class(
            request.query_params, queryset=self.get_queryset(), request=request
        )
        if not filterset.is_valid():
            raise serializers.ValidationError(filterset.errors)
        if self.dataset == LIMITED:
            _require_agreement(request.user, filterset.form.cleaned_data.get("site"))
        return export_response(
            request=request._request, diagnostics=filterset.qs,
            fmt=params.validated_data["format"], dataset=self.dataset,
            filters=filterset.audit_detail(),
        )  # fmt: skip


AUDIO_UNREADABLE = "The recording's audio cannot be read right now; try again in a minute."


class AudioLinkSerializer(serializers.Serializer):
    url = serializers.URLField()
    expires_at = serializers.DateTimeField()


class ResearchAudioLinkView(APIView):
    """``GET /api/v1/research/recordings/{pseudonym}/audio``: a short-lived link to the audio."""

    permission_classes = [IsResearcher]

    @extend_schema(
        operation_id="research_recording_audio_link", responses={200: AudioLinkSerializer}
    )
    def get(self, request, pseudonym: str):
        _require_agreement(request.user)
        recording = research_recording(request.user, pseudonym)
        if recording is None:
            raise NotVisible("Recording")
        try:
            link = audio.issue_link(request, recording=recording, pseudonym=pseudonym)
        except STORAGE_ERRORS as exc:
            raise Unavailable(AUDIO_UNREADABLE, code="storage_unavailable") from exc
        record_event(
            action="research.audio_link_issued", actor=request.user, obj=recording,
            patient=recording.patient, context=AuditContext.of(request),
        )  # fmt: skip
        return Response(AudioLinkSerializer(link).data)


@require_safe
def audio_download(request, token: str):
    """The download a local-storage audio link points to: the signature is the credential."""
    try:
        user, recording, pseudonym = audio.open_link(token)
    except audio.LinkRefused as refused:
        return error_response(403, refused.code, refused.message)
    record_event(
        action="research.audio_downloaded", actor=user, obj=recording, patient=recording.patient,
        context=AuditContext.of(request),
    )  # fmt: skip
    try:
        handle = default_storage.open(audio.research_copy(recording), "rb")
    except STORAGE_ERRORS:
        return error_response(503, "storage_unavailable", AUDIO_UNREADABLE)
    return FileResponse(
        handle, as_attachment=True, filename=audio.download_name(pseudonym),
        content_type="audio/wav",
    )  # fmt: skip
