"""Admin for embeddings and interactions (read-only: both are derived or logged)."""

from django.contrib import admin

from recommender.models import CaseEmbedding, Interaction


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(CaseEmbedding)
class CaseEmbeddingAdmin(ReadOnlyAdmin):
    list_display = ["diagnostic", "model_version", "created_at"]
    list_select_related = ["model_version"]
    raw_id_fields = ["diagnostic"]
    exclude = ["vector"]


@admin.register(Interaction)
class InteractionAdmin(ReadOnlyAdmin):
    list_display = ["user", "diagnostic", "kind", "at"]
    list_filter = ["kind"]
    list_select_related = ["user"]
    raw_id_fields = ["user", "diagnostic", "source"]
    date_hierarchy = "at"
