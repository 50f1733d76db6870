"""Deliveries to the hospital's record in the admin: the dead-letter list (filter "Gave up") and
its action to send the selected ones again. Rows are scoped by the permission module."""

from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from portal.core.admin_base import AuditedModelAdmin
from portal.core.audit import AuditContext, record_event
from portal.core.permissions import restrict
from portal.fhir import delivery
from portal.fhir.models import Delivery


@admin.register(Delivery)
class DeliveryAdmin(AuditedModelAdmin):
    list_display = [
        "id", "diagnostic", "trigger", "status", "attempts", "last_error", "report_status",
        "updated_at",
    ]  # fmt: skip
    list_filter = ["status", "trigger"]
    list_select_related = ["diagnostic"]
    date_hierarchy = "created_at"
    show_full_result_count = False
    readonly_fields = [
        "diagnostic", "trigger", "status", "attempts", "last_error", "report_status", "report_id",
        "created_at", "updated_at", "delivered_at",
    ]  # fmt: skip
    actions = ["send_again"]

    def get_queryset(self, request):
        return restrict(super().get_queryset(request), request.user)

    def has_add_permission(self, request):
        return False  # deliveries come from results and reviews

    @admin.action(description=_("Send the selected dead letters again"))
    def send_again(self, request, queryset):
        count = delivery.send_again(list(queryset))
        record_event(
            action="fhir.delivery_retried", actor=request.user, context=AuditContext.of(request),
            detail={"deliveries": count},
        )  # fmt: skip
        messages.success(
            request,
            ngettext(
                "%(count)d delivery sent again.", "%(count)d deliveries sent again.", count
            ) % {"count": count},
        )  # fmt: skip
