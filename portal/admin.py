"""Admin for sites, memberships, patients and the (read-only) audit log.

Querysets are scoped by ``portal.permissions``: a site administrator sees only their own sites.
"""

from django.contrib import admin

from portal import permissions
from portal.models import AuditEvent, Membership, Patient, ResearchPseudonym, Site


@admin.register(Site)
class SiteAdmin(admin.ModelAdmin):
    list_display = ["name", "code", "created_at"]
    search_fields = ["name", "code"]

    def get_queryset(self, request):
        return permissions.sites_for(request.user)


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "site", "role", "data_use_agreement_until"]
    list_filter = ["role", "site"]
    list_select_related = ["user", "site"]
    search_fields = ["user__username", "site__name"]
    autocomplete_fields = ["user", "site"]

    def get_queryset(self, request):
        return super().get_queryset(request).filter(site__in=permissions.sites_for(request.user))


@admin.register(Patient)
class PatientAdmin(admin.ModelAdmin):
    list_display = ["external_id", "family_name", "given_name", "site", "research_consent"]
    list_filter = ["site", "research_consent", "sex"]
    list_select_related = ["site"]
    search_fields = ["external_id", "family_name", "given_name"]
    autocomplete_fields = ["site"]
    readonly_fields = ["created_by", "created_at", "updated_at", "research_consent_at"]
    date_hierarchy = "created_at"

    def get_queryset(self, request):
        return permissions.patients_for(request.user).select_related("site")


@admin.register(ResearchPseudonym)
class ResearchPseudonymAdmin(admin.ModelAdmin):
    list_display = ["value", "created_at"]
    readonly_fields = ["patient", "value", "created_at"]
    search_fields = ["value"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ["at", "action", "actor", "object_type", "object_id", "site", "request_id"]
    list_filter = ["action", "object_type"]
    list_select_related = ["actor", "site"]
    search_fields = ["request_id", "object_id"]
    date_hierarchy = "at"

    def get_queryset(self, request):
        return permissions.audit_events_for(request.user)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
