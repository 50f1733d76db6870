"""Recording uploads: through the app (``POST /api/v1/recordings/``) and straight to object storage
(``/api/v1/uploads/…``).

They live here, not in ``media_assets``, because each one starts the diagnostics workflow: a stored
recording and its queued diagnostic in one transaction (``diagnostics.services``)."""

import io
from datetime import timedelta

from django.conf import settings
from django.urls import reverse
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from diagnostics import capacity, live
from diagnostics.services import complete_direct_upload, submit_recording
from diagnostics.upload_serializers import (
    CompleteUploadSerializer,
    DirectUploadSerializer,
    RecordingSerializer,
    RecordingUploadSerializer,
)
from media_assets.metrics import observe_upload
from media_assets.quotas import charge_upload
from media_assets.selectors import visible_recording
from media_assets.services import create_pending_upload, receive_upload_content
from media_assets.storage import upload_target
from media_assets.storage_breaker import admit_storage_write
from portal.core import permissions
from portal.core.audit import AuditContext
from portal.core.errors import Invalid


def single_uploaded_file(request):
    """Exactly one file, in the ``file`` field: anything else is ambiguous and refused."""
    files = [f for name in request.FILES for f in request.FILES.getlist(name)]
    if not files:
        raise Invalid("Attach the recording in the 'file' field.", code="file_missing")
    if len(files) > 1 or "file" not in request.FILES:
        raise Invalid("Send exactly one file, in the 'file' field.", code="too_many_files")
    return files[0]


def submission_response(submission) -> Response:
    """201 with the recording and its diagnostic; 200 when the same bytes were there already;
    202 when the diagnostic is expected to wait past ``INFERENCE_MAX_WAIT_S`` (accepted, but the
    result comes later: ``Retry-After`` says when to poll for it)."""
    waiting = (
        live.wait(submission.diagnostic) if submission.diagnostic else capacity.Wait(None, None)
    )
    body = RecordingSerializer(
        submission.recording,
        context={"diagnostic": submission.diagnostic, "duplicate": submission.duplicate,
                 "wait": waiting},
    ).data  # fmt: skip
    if submission.duplicate:
        return Response(body, status=status.HTTP_200_OK)
    if waiting.delayed:
        return Response(
            body, status=status.HTTP_202_ACCEPTED, headers={"Retry-After": str(waiting.seconds)}
        )
    return Response(body, status=status.HTTP_201_CREATED)


class RecordingUploadView(APIView):
    parser_classes = [MultiPartParser]

    @extend_schema(
        request=RecordingUploadSerializer,
        responses={201: RecordingSerializer, 202: RecordingSerializer, 200: RecordingSerializer},
    )
    def post(self, request):
        with observe_upload() as outcome:
            params = RecordingUploadSerializer(data=request.data)
            params.is_valid(raise_exception=True)
            uploaded = single_uploaded_file(request)
            patient = permissions.visible_patient(request.user, params.validated_data["patient"])
            outcome.bytes_received(uploaded.size)
            # Before the quota: a browser retrying a refused upload must not use up its hourly
            # quota while the queue is full or the store is down, nor the server decode what it
            # will not store.
            capacity.admit_upload()
            admit_storage_write()
            charge_upload(actor=request.user, site_id=patient.site_id, size_bytes=uploaded.size)
            submission = submit_recording(
                patient=patient,
                file=uploaded,
                kind=params.validated_data["kind"],
                symptoms=params.validated_data["symptoms"],
                actor=request.user,
                original_name=uploaded.name,
                urgent=params.validated_data["urgent"],
                audit=AuditContext.of(request),
            )
            outcome.succeeded(duplicate=submission.duplicate)
        return submission_response(submission)


class DirectUploadCreateView(APIView):
    """``POST /api/v1/uploads/``: open a direct upload and say where to PUT the bytes."""

    @extend_schema(request=DirectUploadSerializer, responses={201: dict})
    def post(self, request):
        params = DirectUploadSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        data = params.validated_data
        patient = permissions.visible_patient(request.user, data["patient"])
        capacity.admit_upload()  # before the quota, as for uploads through the app
        admit_storage_write()
        charge_upload(actor=request.user, site_id=patient.site_id, size_bytes=data["size_bytes"])
        recording = create_pending_upload(
            patient=patient, kind=data["kind"], size_bytes=data["size_bytes"],
            sha256=data["sha256"], original_name=data["filename"], user=request.user,
        )  # fmt: skip
        target = upload_target(
            recording_id=recording.pk, key=recording.storage_key,
            size_bytes=recording.size_bytes, content_type=data["content_type"],
        )  # fmt: skip
        expires_at = recording.created_at + timedelta(seconds=settings.DIRECT_UPLOAD_EXPIRE_S)
        return Response(
            {
                "id": recording.pk,
                "status": recording.status,
                "upload": {"method": target.method, "url": target.url, "headers": target.headers},
                "complete_url": reverse("upload-complete", args=[recording.pk]),
                "expires_at": expires_at,
            },
            status=status.HTTP_201_CREATED,
        )


class UploadContentView(APIView):
    """``PUT /api/v1/uploads/{id}/content``: the upload target when storage is the filesystem."""

    parser_classes = []

    @extend_schema(request={"application/octet-stream": bytes}, responses={204: None})
    def put(self, request, pk: int):
        recording = visible_recording(request.user, pk, what="Upload")
        with observe_upload() as outcome:
            # DRF gives no stream at all for an empty body.
            stream = request.stream or io.BytesIO()
            receive_upload_content(recording=recording, stream=stream)
            outcome.bytes_received(recording.size_bytes)
        return Response(status=status.HTTP_204_NO_CONTENT)


class UploadCompleteView(APIView):
    """``POST /api/v1/uploads/{id}/complete/``: verify the object, check the audio, enqueue."""

    @extend_schema(
        request=CompleteUploadSerializer,
        responses={201: RecordingSerializer, 202: RecordingSerializer, 200: RecordingSerializer},
    )
    def post(self, request, pk: int):
        recording = visible_recording(request.user, pk, what="Upload")
        params = CompleteUploadSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        with observe_upload() as outcome:
            submission = complete_direct_upload(
                recording=recording, symptoms=params.validated_data["symptoms"],
                urgent=params.validated_data["urgent"], actor=request.user,
                audit=AuditContext.of(request),
            )  # fmt: skip
            outcome.succeeded(duplicate=submission.duplicate)
        return submission_response(submission)
