"""Admin for diagnostics and the model registry; model outputs are read-only.

Actions: retry failed diagnostics; export rows as CSV (audited); promote, demote or archive a
model version (administrators only; exactly one production version stays true). An administrator
marks a version clinically validated (audited like every change); until then its results say
"research use only, not a medical device". The watch pages (agreement, trials, drift) are in
``diagnostics.admin_watch``.
"""

from django.contrib import admin, messages
from django.db import transaction
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from diagnostics import registry
from diagnostics.admin_watch import input_drift, rollback_summary, trial_comparison
from diagnostics.models import Diagnostic, DiagnosticStatus, ModelStatus, ModelVersion
from diagnostics.selectors import diagnostics_for
from diagnostics.services import retry_diagnostic
from portal.core.admin_base import AuditedModelAdmin, PatientColumn, export_as_csv
from portal.core.audit import AuditContext


@admin.register(ModelVersion)
class ModelVersionAdmin(AuditedModelAdmin):
    list_display = [
        "name",
        "version",
        "status",
        "trained_on",
        "clinically_validated",
        "auc",
        "canary_fraction",
        "rolled_back_at",
        "created_at",
    ]
    list_filter = ["status", "trained_on", "clinically_validated"]
    search_fields = ["name", "version"]
    readonly_fields = [
        "name", "version", "artifact", "sha256", "labels", "sample_rate", "clip_seconds",
        "trained_on", "features", "metrics_table", "status", "created_at",
        "promoted_at", "canary_started_at", trial_comparison, rollback_summary, input_drift,
        "rolled_back_at",
    ]  # fmt: skip
    exclude = ["metrics", "input_reference", "rollback_reasons"]
    actions = ["promote", "demote", "archive", export_as_csv]

    @admin.display(description=_("AUC (held out)"))
    def auc(self, obj):
        value = obj.metrics.get("roc_auc")
        return f"{value:.3f}" if isinstance(value, int | float) else "-"

    @admin.display(description=_("Metrics"))
    def metrics_table(self, obj):
        if not obj.metrics:
            return "-"
        rows = format_html_join(
            "", "<tr><th scope='row'>{}</th><td>{}</td></tr>",
            ((key.replace("_", " "), _format(value)) for key, value in sorted(obj.metrics.items())),
        )  # fmt: skip
        note = (
            " (held-out SYNTHETIC data: says nothing about clinical use)"
            if obj.is_synthetic
            else ""
        )
        return format_html("<table><caption>Evaluation{}</caption>{}</table>", note, rows)

    def has_add_permission(self, request):
        return False  # models are registered by train_model / import_model, with their artifact

    def has_change_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description=_("Promote to production (archives the current one)"))
    def promote(self, request, queryset):
        if not self._only_one(request, queryset):
            return
        version = registry.promote(version=queryset.get())
        self.log_change(request, version, [{"changed": {"fields": ["status"]}}])
        messages.success(request, f"{version} is now the production model.")

    @admin.action(description=_("Demote to candidate"))
    def demote(self, request, queryset):
        self._set_status(request, queryset, ModelStatus.CANDIDATE)

    @admin.action(description=_("Archive"))
    def archive(self, request, queryset):
        self._set_status(request, queryset, ModelStatus.ARCHIVED)

    def _set_status(self, request, queryset, status):
        if queryset.filter(status=ModelStatus.PRODUCTION).exists():
            messages.error(
                request,
                "The production model cannot be demoted or archived: promote another first.",
            )
            return
        with transaction.atomic():
            for version in queryset:
                version.status = status
                version.canary_fraction = 0
                version.save(update_fields=["status", "canary_fraction"])
                self.log_change(request, version, [{"changed": {"fields": ["status"]}}])
        messages.success(request, f"{queryset.count()} model version(s) set to {status}.")

    def _only_one(self, request, queryset) -> bool:
        if queryset.count() != 1:
            messages.error(request, "Select exactly one model version to promote.")
            return False
        return True

    def get_actions(self, request):
        actions = super().get_actions(request)
        if not request.user.is_superuser:
            for name in ("promote", "demote", "archive"):
                actions.pop(name, None)
        return actions


def _format(value):
    if isinstance(value, float):
        return f"{value:.4f}"
    return value


@admin.register(Diagnostic)
class DiagnosticAdmin(PatientColumn, AuditedModelAdmin):
    list_display = [
        "id",
        "patient_name",
        "status",
        "urgent",
        "label",
        "confidence",
        "review_label",
        "queued_at",
    ]
    list_filter = ["status", "urgent", "label", "review_label", "model_version"]
    list_select_related = ["patient", "model_version"]
    raw_id_fields = ["recording", "patient", "reviewed_by"]
    date_hierarchy = "queued_at"
    show_full_result_count = False
    exclude = ["embedding"]
    readonly_fields = [
        "recording", "patient", "status", "urgent", "label", "confidence", "scores",
        "model_version", "symptoms", "timings", "queued_at", "started_at", "finished_at", "attempts", "error",
        "task_id", "reviewed_by", "reviewed_at",
    ]  # fmt: skip
    actions = ["retry_failed", export_as_csv]

    def get_queryset(self, request):
        return diagnostics_for(request.user).select_related("patient", "model_version")

    def has_add_permission(self, request):
        return False  # diagnostics come from uploads

    @admin.action(description=_("Retry the selected failed analyses"))
    def retry_failed(self, request, queryset):
        failed = list(queryset.filter(status=DiagnosticStatus.FAILED).select_related("patient"))
        for diagnostic in failed:
            retry_diagnostic(
                diagnostic=diagnostic, actor=request.user, audit=AuditContext.of(request)
            )
        skipped = queryset.count() - len(failed)
        messages.success(
            request,
            f"{len(failed)} analysis(es) sent back to the queue."
            + (f" {skipped} skipped (not failed)." if skipped else ""),
        )
