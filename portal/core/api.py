"""Patients over REST: ``GET/POST /api/v1/patients/``, ``GET /api/v1/patients/{id}/`` and
``POST /api/v1/patients/lookup/`` (find by external id: posted, so the identifier is never in a
URL, where proxies and browser histories would keep it).

Scoped by ``portal.core.permissions`` (a patient of another site is a 404, like one that does not exist),
and every read is audited: a list writes one event naming the patients it returned, a detail one
event for its patient. The writes are ``portal.core.services``' (the same the clinician pages use).
"""

from django.core.exceptions import ValidationError as DjangoValidationError
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from portal.core import permissions, services
from portal.core.audit import AuditContext, record_event
from portal.core.models import Patient
from portal.core.rest.conditional import conditional_response
from portal.core.rest.filters import StrictBooleanFilter, requester_choices
from portal.core.rest.pagination import IdCursorPagination
from portal.core.serializers import PatientCreateSerializer, PatientSerializer


class PatientFilter(filters.FilterSet):
    site = filters.ModelChoiceFilter(queryset=requester_choices(permissions.sites_for))
    research_consent = StrictBooleanFilter()

    class Meta:
        model = Patient
        fields = []


class PatientListCreateView(generics.ListCreateAPIView):
    serializer_class = PatientSerializer
    pagination_class = IdCursorPagination
    filterset_class = PatientFilter

    def get_queryset(self):
        return permissions.patients_for(self.request.user).select_related("site")

    def list(self, request, *args, **kwargs):
        response = super().list(request, *args, **kwargs)
        # Which patients were listed and which filters were used, never the filter values: an
        # external id is an identifier.
        patients = [row["id"] for row in response.data["results"]]
        used = sorted(PatientFilter.base_filters.keys() & request.query_params.keys())
        record_event(
            action="patient.listed", actor=request.user, context=AuditContext.of(request),
            detail={"patients": patients, "filters": used},
        )  # fmt: skip
        return response

    @extend_schema(request=PatientCreateSerializer, responses={201: PatientSerializer})
    def create(self, request, *args, **kwargs):
        params = PatientCreateSerializer(data=request.data, context={"request": request})
        params.is_valid(raise_exception=True)
        try:
            patient = services.create_patient(
                actor=request.user, audit=AuditContext.of(request), **params.validated_data
            )
        except DjangoValidationError as invalid:
            raise serializers.ValidationError(
                invalid.message_dict if hasattr(invalid, "error_dict") else invalid.messages
            ) from None
        return Response(PatientSerializer(patient).data, status=status.HTTP_201_CREATED)


class PatientDetailView(APIView):
    @extend_schema(responses={200: PatientSerializer, 304: None})
    def get(self, request, pk: int):
        patient = permissions.visible_patient(request.user, pk)
        return conditional_response(
            request, PatientSerializer(patient).data, last_modified=patient.updated_at,
            on_send=lambda: record_event(action="patient.viewed", actor=request.user,
                                         obj=patient, context=AuditContext.of(request)),
        )  # fmt: skip


class PatientLookupSerializer(serializers.Serializer):
    external_id = serializers.CharField(
        max_length=64, help_text="The hospital's record number, exactly (case-sensitive)."
    )


class PatientLookupView(APIView):
    """The patients of the user's sites with this external id (one per site at most)."""

    @extend_schema(
        request=PatientLookupSerializer, responses={200: PatientSerializer(many=True)},
        operation_id="patients_lookup",
    )  # fmt: skip
    def post(self, request):
        params = PatientLookupSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        patients = list(
            permissions.patients_for(request.user)
            .select_related("site")
            .filter(external_id=params.validated_data["external_id"])
            .order_by("id")
        )
        record_event(
            action="patient.listed", actor=request.user, context=AuditContext.of(request),
            detail={"patients": [p.pk for p in patients], "filters": ["external_id"]},
        )  # fmt: skip
        return Response(PatientSerializer(patients, many=True).data)
