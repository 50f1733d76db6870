"""The baseline the research export is measured against: what a typical project ships.

A plain DRF list view over the same consented, scoped diagnostics with the same information per
row, written the usual way: a ModelSerializer with ``select_related``, Python computing the age
band and the year, JSON rendering, and page-number pagination (one COUNT and an OFFSET per page).
The page size is the API's maximum, 1000, which favours the baseline. It is served only by the
benchmark's server (``bench.export_settings``); the project's URLconf does not include it.
"""

from django.urls import include, path
from rest_framework import generics, serializers
from rest_framework.pagination import PageNumberPagination

from diagnostics.models import Diagnostic
from portal.core.rest.access import IsResearcher
from portal.research.selectors import SAFE_HARBOR, research_diagnostics


class PlainResearchRowSerializer(serializers.ModelSerializer):
    patient_id = serializers.CharField(source="patient.pseudonym.value")
    recording_id = serializers.CharField(source="recording.research_pseudonym.value")
    sex = serializers.CharField(source="patient.sex")
    age_band = serializers.SerializerMethodField()
    site = serializers.CharField(source="patient.site.code")
    kind = serializers.CharField(source="recording.kind")
    duration_s = serializers.FloatField(source="recording.duration_s")
    quality = serializers.JSONField(source="recording.quality")
    year = serializers.SerializerMethodField()
    model_version = serializers.StringRelatedField()

    class Meta:
        model = Diagnostic
        fields = [
            "patient_id", "recording_id", "sex", "age_band", "site", "kind", "duration_s",
            "quality", "symptoms", "year", "label", "confidence", "model_version", "review_label",
        ]  # fmt: skip

    def get_age_band(self, diagnostic) -> str:
        born, at = diagnostic.patient.birth_date, diagnostic.recording.created_at.date()
        age = at.year - born.year - ((at.month, at.day) < (born.month, born.day))
        return "90+" if age >= 90 else f"{age // 5 * 5}-{age // 5 * 5 + 4}"

    def get_year(self, diagnostic) -> int:
        return diagnostic.recording.created_at.year


class Pages(PageNumberPagination):
    page_size = 1000


class PlainResearchListView(generics.ListAPIView):
    permission_classes = [IsResearcher]
    serializer_class = PlainResearchRowSerializer
    pagination_class = Pages
    filter_backends = []

    def get_queryset(self):
        return (
            research_diagnostics(self.request.user, SAFE_HARBOR)
            .select_related(
                "patient__site",
                "patient__pseudonym",
                "recording__research_pseudonym",
                "model_version",
            )
            .order_by("pk")
        )


urlpatterns = [
    path("bench/plain-research/", PlainResearchListView.as_view()),
    path("", include("portal.urls")),
]
