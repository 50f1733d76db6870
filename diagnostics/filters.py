"""Filters of the diagnostics and model-version lists.

A patient filter only accepts the user's own patients: any other id is "not one of the available
choices", the same answer as for an id that does not exist, so no filter reveals another site.
"""

from django_filters import rest_framework as filters

from diagnostics.models import Diagnostic, DiagnosticStatus, Label, ModelStatus, ModelVersion
from media_assets.models import RecordingKind
from portal.core import permissions
from portal.core.rest.filters import StrictBooleanFilter, requester_choices


def filter_reviewed(queryset, name, value):
    """``reviewed=true``: a clinician has reviewed it; ``false``: not yet."""
    if value is None:
        return queryset
    return queryset.exclude(review_label="") if value else queryset.filter(review_label="")


class DiagnosticFilter(filters.FilterSet):
    patient = filters.ModelChoiceFilter(queryset=requester_choices(permissions.patients_for))
    status = filters.ChoiceFilter(choices=DiagnosticStatus.choices)
    label = filters.ChoiceFilter(choices=Label.choices, help_text="The model's label.")
    review_label = filters.ChoiceFilter(choices=Label.choices, help_text="The clinician's label.")
    reviewed = StrictBooleanFilter(method=filter_reviewed)
    queued = filters.DateFromToRangeFilter(
        field_name="queued_at", help_text="Queued on or after / on or before (YYYY-MM-DD)."
    )
    model_version = filters.ModelChoiceFilter(queryset=ModelVersion.objects.all())
    kind = filters.ChoiceFilter(field_name="recording__kind", choices=RecordingKind.choices)

    class Meta:
        model = Diagnostic
        fields = []


class ModelVersionFilter(filters.FilterSet):
    status = filters.ChoiceFilter(choices=ModelStatus.choices)

    class Meta:
        model = ModelVersion
        fields = []
