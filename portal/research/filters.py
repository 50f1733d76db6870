"""The filters of the research export.

A Safe Harbor export may not carry any element of a date but the year, so its date range must be
whole years (``recorded_after`` a 1 January, ``recorded_before`` a 31 December): a range of one
day would date every row it returns. The limited data set takes any range.
"""

from django.db.models import QuerySet
from django_filters import rest_framework as filters

from diagnostics.filters import filter_reviewed
from diagnostics.models import Diagnostic, Label, ModelVersion
from media_assets.models import RecordingKind
from portal.core import permissions
from portal.core.models import Site
from portal.core.rest.filters import StrictBooleanFilter
from portal.research.selectors import LIMITED


def _research_sites(request) -> QuerySet[Site]:
    if request is None:  # schema generation
        return Site.objects.none()
    return permissions.research_sites(request.user)


class ResearchDiagnosticFilter(filters.FilterSet):
    recorded = filters.DateFromToRangeFilter(
        field_name="recording__created_at",
        label="Recorded on or after / on or before (YYYY-MM-DD; whole years in Safe Harbor exports)",
    )
    label = filters.ChoiceFilter(choices=Label.choices, label="The model's label")
    reviewed_label = filters.ChoiceFilter(
        field_name="review_label", choices=Label.choices, label="The clinician's label"
    )
    reviewed = StrictBooleanFilter(method=filter_reviewed, label="Reviewed by a clinician")
    model_version = filters.ModelChoiceFilter(
        queryset=ModelVersion.objects.all(), label="Model version id (see /api/v1/models/)"
    )
    kind = filters.ChoiceFilter(field_name="recording__kind", choices=RecordingKind.choices)
    site = filters.ModelChoiceFilter(
        field_name="patient__site", to_field_name="code", queryset=_research_sites,
        label="Site code",
    )  # fmt: skip

    class Meta:
        model = Diagnostic
        fields = []

    def is_valid(self) -> bool:
        if not super().is_valid():
            return False
        span = self.form.cleaned_data.get("recorded")
        if self.data.get("dataset") != LIMITED and span and not _whole_years(span):
            self.form.add_error(
                "recorded",
                "A Safe Harbor export filters by whole years: recorded_after must be a "
                "1 January and recorded_before a 31 December (the limited data set takes any "
                "range).",
            )
            return False
        return True

    def audit_detail(self) -> dict:
        """The filters as the audit log keeps them: values that name no person."""
        detail = {}
        for name, value in self.form.cleaned_data.items():
            if value in (None, ""):
                continue
            if isinstance(value, slice):
                value = [v.date().isoformat() if v else None for v in (value.start, value.stop)]
            elif isinstance(value, Site):
                value = value.code
            elif isinstance(value, ModelVersion):
                value = value.pk
            detail[name] = value
        return detail


def _whole_years(span: slice) -> bool:
    start, stop = span.start, span.stop
    starts_a_year = start is None or (start.month, start.day) == (1, 1)
    ends_a_year = stop is None or (stop.month, stop.day) == (12, 31)
    return starts_a_year and ends_a_year
