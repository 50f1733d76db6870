"""Admin for diagnostics and the model registry; model outputs are read-only."""

from django.contrib import admin

from diagnostics.models import Diagnostic, ModelVersion
from portal import permissions


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = ["name", "version", "status", "trained_on", "canary_fraction", "created_at"]
    list_filter = ["status", "trained_on"]
    search_fields = ["name", "version"]
    readonly_fields = ["artifact", "sha256", "labels", "metrics", "created_at", "promoted_at"]


@admin.register(Diagnostic)
class DiagnosticAdmin(admin.ModelAdmin):
    list_display = ["id", "patient", "status", "label", "confidence", "review_label", "queued_at"]
    list_filter = ["status", "label", "review_label", "model_version"]
    list_select_related = ["patient", "model_version"]
    raw_id_fields = ["recording", "patient", "reviewed_by"]
    date_hierarchy = "queued_at"
    readonly_fields = [
        "label",
        "confidence",
        "scores",
        "model_version",
        "timings",
        "queued_at",
        "started_at",
        "finished_at",
        "attempts",
        "error",
    ]

    def get_queryset(self, request):
        return permissions.diagnostics_for(request.user).select_related("patient", "model_version")
