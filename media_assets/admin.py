"""Admin for recordings: hashes, keys and measurements are read-only."""

from django.contrib import admin

from media_assets.models import Recording
from portal import permissions


@admin.register(Recording)
class RecordingAdmin(admin.ModelAdmin):
    list_display = ["id", "patient", "kind", "status", "duration_s", "created_at"]
    list_filter = ["status", "kind"]
    list_select_related = ["patient"]
    raw_id_fields = ["patient", "uploaded_by"]
    date_hierarchy = "created_at"
    readonly_fields = [
        "storage_key",
        "original_name",
        "content_type",
        "size_bytes",
        "sha256",
        "duration_s",
        "sample_rate",
        "channels",
        "quality",
        "created_at",
        "stored_at",
    ]

    def get_queryset(self, request):
        return permissions.recordings_for(request.user).select_related("patient")
