"""Admin for users, sites, memberships, patients and the (read-only) audit log.

Administrators (superusers) see everything. Site administrators (staff with a site_admin
membership) see and manage only their own sites' users, memberships and patients, and cannot grant
themselves or anyone another site, staff or superuser status: the fields that would do it are
read-only for them and the site choices are limited to their sites. Querysets come from
``portal.core.permissions``.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from portal.core import enrolment, permissions, revocation
from portal.core.admin_base import (
    AuditedModelAdmin,
    InputFilter,
    PseudonymAdmin,
    RecordAdmin,
    export_as_csv,
)
from portal.core.audit import AuditContext
from portal.core.models import (
    AuditEvent,
    Membership,
    Patient,
    ResearchPseudonym,
    Role,
    Site,
)

User = get_user_model()


def administered_sites(request):
    return permissions.sites_for(request.user, roles=(Role.SITE_ADMIN,))


admin.site.unregister(User)


@admin.action(description=_("Issue a one-time link to set up an authenticator app"))
def issue_enrolment_link(modeladmin, request, queryset):
    """One link per selected user, shown once here for the administrator to pass on."""
    for user in queryset:
        path = enrolment.issue_link(user=user, actor=request.user, audit=AuditContext.of(request))
        link = request.build_absolute_uri(path)
        modeladmin.message_user(request, f"{user.get_username()}: {link}", messages.SUCCESS)


@admin.register(User)
class ScopedUserAdmin(AuditedModelAdmin, UserAdmin):
    list_display = ["username", "first_name", "last_name", "is_active", "is_staff", "last_login"]
    list_filter = ["is_active", "is_staff", "memberships__role", "memberships__site"]
    search_fields = ["username", "first_name", "last_name", "email"]
    actions = [export_as_csv, issue_enrolment_link]
    _escalating_fields = ("is_staff", "is_superuser", "groups", "user_permissions")

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if change and "is_active" in form.changed_data and not obj.is_active:
            revocation.revoke(user=obj, reason="deactivated", audit=AuditContext.of(request))

    def user_change_password(self, request, id, form_url=""):
        response = super().user_change_password(request, id, form_url)
        if request.method == "POST" and response.status_code == 302:
            user = self.get_object(request, id)
            revocation.revoke(user=user, reason="password_changed", audit=AuditContext.of(request))
        return response

    def get_queryset(self, request):
        users = super().get_queryset(request)
        if request.user.is_superuser:
            return users
        members = Membership.objects.filter(site__in=administered_sites(request)).values("user")
        unassigned = Q(memberships__isnull=True, is_staff=False, is_superuser=False)
        return users.filter(Q(pk__in=members) | unassigned).distinct()

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            fields += [*self._escalating_fields, "last_login", "date_joined"]
        return fields

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser

    # A deleted user's tokens are revoked first, in the deletion's transaction.
    def delete_model(self, request, obj):
        with transaction.atomic():
            revocation.revoke(user=obj, reason="deleted", audit=AuditContext.of(request))
            super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        with transaction.atomic():
            for user in queryset:
                revocation.revoke(user=user, reason="deleted", audit=AuditContext.of(request))
            super().delete_queryset(request, queryset)


@admin.register(Site)
class SiteAdmin(AuditedModelAdmin):
    list_display = ["name", "code", "created_at"]
    search_fields = ["name", "code"]

    def get_queryset(self, request):
        return permissions.sites_for(request.user)

    def has_add_permission(self, request):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser

    # Deleting a site deletes its memberships: their users lose what they could see there.
    def delete_model(self, request, obj):
        with transaction.atomic():
            revocation.revoke_members(
                sites=[obj], reason="membership_lost", audit=AuditContext.of(request)
            )
            super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        with transaction.atomic():
            revocation.revoke_members(
                sites=list(queryset), reason="membership_lost", audit=AuditContext.of(request)
            )
            super().delete_queryset(request, queryset)


class MembershipForm(forms.ModelForm):
    class Meta:
        model = Membership
        fields = ["user", "site", "role", "data_use_agreement_until"]

    def clean(self):
        cleaned = super().clean()
        actor = self.request.user
        if not actor.is_superuser and cleaned.get("user") == actor:
            raise ValidationError("You cannot change your own memberships; ask an administrator.")
        return cleaned


@admin.register(Membership)
class MembershipAdmin(AuditedModelAdmin):
    form = MembershipForm
    list_display = ["user", "site", "role", "data_use_agreement_until"]
    list_filter = ["role", "site"]
    list_select_related = ["user", "site"]
    search_fields = ["user__username", "site__name"]
    autocomplete_fields = ["user", "site"]
    actions = [export_as_csv]

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        form.request = request
        return form

    def get_queryset(self, request):
        memberships = super().get_queryset(request)
        if request.user.is_superuser:
            return memberships
        return memberships.filter(site__in=administered_sites(request))

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "site" and not request.user.is_superuser:
            kwargs["queryset"] = administered_sites(request)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.user_id == request.user.pk and not request.user.is_superuser:
            return False
        return super().has_change_permission(request, obj)

    has_delete_permission = has_change_permission

    # Losing a membership ends the user's tokens and live sockets: what they may see has shrunk.
    def save_model(self, request, obj, form, change):
        lost = None
        if change and {"user", "site", "role"} & set(form.changed_data):
            lost = Membership.objects.select_related("user").get(pk=obj.pk).user
        super().save_model(request, obj, form, change)
        if lost is not None:
            revocation.revoke(user=lost, reason="membership_lost", audit=AuditContext.of(request))

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        revocation.revoke(user=obj.user, reason="membership_lost", audit=AuditContext.of(request))

    def delete_queryset(self, request, queryset):
        users = {membership.user for membership in queryset.select_related("user")}
        super().delete_queryset(request, queryset)
        for user in users:
            revocation.revoke(user=user, reason="membership_lost", audit=AuditContext.of(request))


@admin.register(Patient)
class PatientAdmin(AuditedModelAdmin):
    list_display = ["external_id", "family_name", "given_name", "site", "research_consent"]
    list_filter = ["site", "research_consent", "sex"]
    list_select_related = ["site"]
    search_fields = ["external_id"]  # searched as the pages search: see get_search_results
    search_help_text = _(
        "Any word of the name or the external id, from its start; accents and capitals ignored."
    )
    autocomplete_fields = ["site"]
    readonly_fields = ["created_by", "created_at", "updated_at", "research_consent_at"]
    date_hierarchy = "created_at"
    show_full_result_count = False  # no COUNT(*) over a million patients per page
    actions = [export_as_csv]

    def get_queryset(self, request):
        return permissions.patients_for(request.user).select_related("site")

    def get_search_results(self, request, queryset, search_term):
        # One search for pages and admin: folded keys on an index, not icontains over names.
        return queryset.search(search_term), False

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None and not request.user.is_superuser:
            fields.append("site")  # moving a patient between sites is an administrator's job
        return fields

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "site" and not request.user.is_superuser:
            kwargs["queryset"] = permissions.sites_for(request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)


@admin.register(ResearchPseudonym)
class ResearchPseudonymAdmin(PseudonymAdmin):
    readonly_fields = ["patient", "value", "created_at"]

    def get_queryset(self, request):
        return (
            super().get_queryset(request).filter(patient__in=permissions.patients_for(request.user))
        )


class ActorFilter(InputFilter):
    title = _("actor")
    parameter_name = "actor"
    placeholder = _("Username")
    input_mode = ""

    def filter_value(self, queryset, value):
        return queryset.filter(actor__username__iexact=value)


class PatientFilter(InputFilter):
    title = _("patient")
    parameter_name = "patient"
    placeholder = _("Patient number")
    input_mode = "numeric"
    invalid_message = _("Filter by the patient's number as this list shows it: digits only.")

    def filter_value(self, queryset, value):
        if not value.isdecimal():
            raise ValueError(value)
        return queryset.filter(patient_id=int(value))


@admin.register(AuditEvent)
class AuditEventAdmin(RecordAdmin):
    """Read-only, filterable, exportable: the compliance officer's view of the trail."""

    list_display = [
        "at",
        "action",
        "actor",
        "object_type",
        "object_id",
        "patient_id",
        "site",
        "request_id",
    ]
    list_filter = [ActorFilter, PatientFilter, "action", "object_type", "site"]
    list_select_related = ["actor", "site"]
    search_fields = ["request_id", "object_id", "actor__username", "=patient__id"]
    date_hierarchy = "at"
    show_full_result_count = False
    actions = [export_as_csv]

    def get_queryset(self, request):
        return permissions.audit_events_for(request.user).select_related("actor", "site")
