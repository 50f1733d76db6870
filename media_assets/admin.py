"""Admin for recordings: hashes, keys and measurements are read-only."""

from django.contrib import admin

from media_assets.models import Recording, RecordingPseudonym
from media_assets.selectors import recordings_for
from portal.core.admin_base import (
    AuditedModelAdmin,
    PatientColumn,
    PseudonymAdmin,
    export_as_csv,
)


@admin.register(Recording)
class RecordingAdmin(PatientColumn, AuditedModelAdmin):
    list_display = ["id", "patient_name", "kind", "status", "duration_s", "created_at"]
    list_filter = ["status", "kind"]
    list_select_related = ["patient"]
    raw_id_fields = ["patient", "uploaded_by"]
    date_hierarchy = "created_at"
    show_full_result_count = False
    actions = [export_as_csv]
    readonly_fields = [
        "patient", "status", "storage_key", "original_name", "content_type", "size_bytes",
        "sha256", "duration_s", "sample_rate", "channels", "quality", "uploaded_by",
        "created_at", "stored_at",
    ]  # fmt: skip

    def get_queryset(self, request):
        return recordings_for(request.user).select_related("patient")

    def has_add_permission(self, request):
        return False  # recordings come through the upload checks, never by hand


@admin.register(RecordingPseudonym)
class RecordingPseudonymAdmin(PseudonymAdmin):
    readonly_fields = ["recording", "value", "created_at"]

    def get_queryset(self, request):
        return super().get_queryset(request).filter(recording__in=recordings_for(request.user))
