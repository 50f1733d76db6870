"""Admin for diagnostics, the model registry and training runs; model outputs are read-only.

Actions: retry failed diagnostics; export rows as CSV (audited); promote (through the promotion
gate, on a page that shows the comparison with production and takes an administrator's written
reason to override a refusal), demote or archive a model version (administrators only; exactly one
production version stays true); start, cancel and reproduce training runs, whose page shows their
progress, evaluation and log (administrators only). An administrator marks a version clinically
validated (audited like every change); until then its results say "research use only, not a
medical device". The watch pages (agreement, trials, drift) are in ``diagnostics.admin_watch``.
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from diagnostics import registry, training
from diagnostics.admin_watch import input_drift, rollback_summary, trial_comparison
from diagnostics.dataset_import import DATASETS
from diagnostics.evaluation_display import comparison_html, evaluation_html, history_html
from diagnostics.models import (
    Diagnostic,
    DiagnosticStatus,
    ModelStatus,
    ModelVersion,
    TrainingRun,
    TrainingStatus,
)
from diagnostics.selectors import diagnostics_for
from diagnostics.services import retry_diagnostic
from portal.core.admin_base import AuditedModelAdmin, PatientColumn, export_as_csv
from portal.core.audit import AuditContext
from portal.core.errors import DomainError

# Why a training run's fitted temperature was (not) served (`evaluation.choose_temperature`).
CALIBRATION_DECISIONS = {
    "applied": _("applied"),
    "no_cases": _("not applied, no calibration recordings"),
    "separable": _("not applied, every calibration recording was classified right"),
    "not_significant": _("not applied, no gain beyond chance"),
    "raises_ece": _("not applied, it raised their expected calibration error"),
}


# The share of new diagnostics a canary started from the admin analyses (the command takes any).
CANARY_FRACTION = 0.1


@admin.register(ModelVersion)
class ModelVersionAdmin(AuditedModelAdmin):
    list_display = [
        "name",
        "version",
        "status",
        "trained_on",
        "clinically_validated",
        "auc",
        "gate",
        "canary_fraction",
        "rolled_back_at",
        "created_at",
    ]
    list_filter = ["status", "trained_on", "clinically_validated"]
    search_fields = ["name", "version"]
    readonly_fields = [
        "name", "version", "artifact", "sha256", "labels", "sample_rate", "clip_seconds",
        "trained_on", "features", "metrics_table", "status", "created_at", "promoted_at",
        "comparison_panel", "evaluation_panel", "canary_started_at", trial_comparison,
        rollback_summary, input_drift, "rolled_back_at",
    ]  # fmt: skip
    exclude = ["metrics", "evaluation", "comparison", "input_reference", "rollback_reasons"]
    actions = [
        "promote", "compare", "start_canary", "start_shadow", "demote", "archive", export_as_csv,
    ]  # fmt: skip

    @admin.display(description=_("Compared with production (the promotion gate)"))
    def comparison_panel(self, obj):
        if obj.status == ModelStatus.PRODUCTION:
            return _("This is the production model.")
        link = reverse("admin:diagnostics_modelversion_promote", args=[obj.pk])
        return format_html(
            '{}<p><a class="button" href="{}">{}</a></p>',
            comparison_html(obj.comparison), link, _("Promote…"),
        )  # fmt: skip

    @admin.display(description=_("Evaluation"))
    def evaluation_panel(self, obj):
        return evaluation_html(obj.evaluation)

    def get_urls(self):
        view = self.admin_site.admin_view(self.promote_view)
        return [
            path("<int:pk>/promote/", view, name="diagnostics_modelversion_promote"),
            *super().get_urls(),
        ]

    def promote_view(self, request, pk):
        """The candidate beside production, and the promotion: refused where the gate refuses,
        unless the administrator writes why they override it (audited with the reason)."""
        if not request.user.is_superuser:
            raise PermissionDenied
        version = get_object_or_404(ModelVersion, pk=pk)
        passed, reasons = registry.gate_decision(version)
        form = PromoteForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                registry.promote_through_gate(
                    version=version, actor=request.user, audit=AuditContext.of(request),
                    override_reason=form.cleaned_data["override_reason"],
                )  # fmt: skip
            except registry.PromotionRefused as refused:
                form.add_error("override_reason", refused.message)
            else:
                self.log_change(request, version, [{"changed": {"fields": ["status"]}}])
                messages.success(request, _("%(v)s is now the production model.") % {"v": version})
                return redirect("admin:diagnostics_modelversion_change", version.pk)
        context = {
            **self.admin_site.each_context(request), "opts": self.model._meta, "original": version,
            "title": _("Promote %(v)s") % {"v": version}, "form": form, "passed": passed,
            "reasons": reasons, "production": registry.production_version(),
            "comparison": comparison_html(version.comparison),
        }  # fmt: skip
        return TemplateResponse(request, "admin/diagnostics/modelversion/promote.html", context)

    @admin.display(description=_("AUC (held out)"))
    def auc(self, obj):
        value = obj.metrics.get("roc_auc")
        return f"{value:.3f}" if isinstance(value, int | float) else "-"

    @admin.display(description=_("Promotion gate"))
    def gate(self, obj):
        decision = obj.comparison.get("decision")
        if decision is None:
            return "-"
        return _("passes") if decision.get("passed") else _("refuses")

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
            return None
        return redirect("admin:diagnostics_modelversion_promote", queryset.get().pk)

    @admin.action(description=_("Compare with production again (the promotion gate)"))
    def compare(self, request, queryset):
        from diagnostics.tasks import compare_with_production

        for version in queryset:
            compare_with_production.delay(version.pk)
        messages.success(
            request,
            _("%(n)s comparison(s) sent to the training workers.") % {"n": queryset.count()},
        )

    @admin.action(description=_("Start as a canary on 10%% of new diagnostics"))
    def start_canary(self, request, queryset):
        self._start_trial(request, queryset, registry.start_canary, CANARY_FRACTION)

    @admin.action(description=_("Run in shadow on every new diagnostic (results not shown)"))
    def start_shadow(self, request, queryset):
        self._start_trial(request, queryset, registry.start_shadow, 1.0)

    def _start_trial(self, request, queryset, start, fraction: float) -> None:
        """One candidate at a time; compared with production from now on and rolled back by
        ``check_model_trials`` past the ``CANARY_*`` bounds (docs/model.md)."""
        if not self._only_one(request, queryset):
            return
        version = queryset.get()
        if version.status != ModelStatus.CANDIDATE:
            messages.error(request, _("Only a candidate can start a canary or shadow trial."))
            return
        version = start(version=version, fraction=fraction)
        self.log_change(request, version, [{"changed": {"fields": ["status", "canary_fraction"]}}])
        messages.success(
            request,
            _("%(v)s now analyses %(share)s of new diagnostics as a %(mode)s.")
            % {"v": version, "share": f"{fraction:.0%}", "mode": version.get_status_display()},
        )

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
                _("The production model cannot be demoted or archived: promote another first."),
            )
            return
        with transaction.atomic():
            for version in queryset:
                version.status = status
                version.canary_fraction = 0
                version.save(update_fields=["status", "canary_fraction"])
                self.log_change(request, version, [{"changed": {"fields": ["status"]}}])
        messages.success(
            request,
            _("%(n)s model version(s) set to %(status)s.")
            % {"n": queryset.count(), "status": ModelStatus(status).label},
        )

    def _only_one(self, request, queryset) -> bool:
        if queryset.count() != 1:
            messages.error(request, _("Select exactly one model version."))
            return False
        return True

    def get_actions(self, request):
        actions = super().get_actions(request)
        if not request.user.is_superuser:
            for name in ("promote", "compare", "start_canary", "start_shadow", "demote", "archive"):
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
        "task_id", "reviewed_by", "reviewed_at", "review_imported",
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


class PromoteForm(forms.Form):
    override_reason = forms.CharField(
        label=_("Reason to override the gate"), required=False, widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Only when the gate refuses: why this model should serve anyway (audited)."),
    )  # fmt: skip


class StartTrainingForm(forms.Form):
    name = forms.CharField(label=_("Model name"), initial=training.DEFAULT_PARAMETERS["name"])
    epochs = forms.IntegerField(label=_("Epochs"), min_value=1, max_value=500,
                                initial=training.DEFAULT_PARAMETERS["epochs"])  # fmt: skip
    seed = forms.IntegerField(label=_("Seed"), min_value=0, initial=0)
    datasets = forms.MultipleChoiceField(
        label=_("Also train on imported data sets"), required=False,
        choices=[(code, spec.title) for code, spec in DATASETS.items()],
        widget=forms.CheckboxSelectMultiple,
    )  # fmt: skip


@admin.register(TrainingRun)
class TrainingRunAdmin(AuditedModelAdmin):
    list_display = ["id", "status", "progress", "n_examples", "started_by", "model_version",
                    "created_at", "finished_at"]  # fmt: skip
    list_filter = ["status"]
    list_select_related = ["started_by", "model_version"]
    fields = [
        "status", "progress", "cancel_requested", "parameters", "snapshot_summary", "started_by",
        "reproduces", "model_version", "created_at", "started_at", "finished_at", "history_table",
        "evaluation_panel", "calibration", "log_text",
    ]  # fmt: skip
    readonly_fields = fields
    actions = ["cancel", "reproduce"]
    change_list_template = "admin/diagnostics/trainingrun/change_list.html"
    change_form_template = "admin/diagnostics/trainingrun/change_form.html"

    @admin.display(description=_("Progress"))
    def progress(self, obj):
        return _("epoch %(e)s of %(n)s") % {"e": obj.epoch, "n": obj.parameters.get("epochs", "?")}

    @admin.display(description=_("Data snapshot"))
    def snapshot_summary(self, obj):
        counts: dict[tuple[str, str], int] = {}
        for row in obj.snapshot:
            counts[(row["site"], row["label"])] = counts.get((row["site"], row["label"]), 0) + 1
        patients = len({row["patient"] for row in obj.snapshot})
        rows = format_html_join(
            "",
            "<li>{}: {} {}</li>",
            ((site, n, label) for (site, label), n in sorted(counts.items())),
        )
        return format_html(
            "<p>{}</p><ul>{}</ul>",
            _("%(n)s recordings of %(p)s patients, each with its sha256, frozen at the start.")
            % {"n": obj.n_examples, "p": patients},
            rows,
        )

    @admin.display(description=_("Metrics per epoch"))
    def history_table(self, obj):
        return history_html(obj.history)

    @admin.display(description=_("Evaluation"))
    def evaluation_panel(self, obj):
        return evaluation_html(obj.evaluation)

    @admin.display(description=_("Calibration"))
    def calibration(self, obj):
        if "temperature" not in obj.metrics:
            return "-"
        served = _("temperature %(t)s; expected calibration error %(b)s before, %(a)s after") % {
            "t": obj.metrics["temperature"], "b": obj.metrics.get("ece_before_calibration"),
            "a": obj.metrics.get("expected_calibration_error"),
        }  # fmt: skip
        fit = obj.metrics.get("calibration")  # runs before the decision was recorded have none
        if fit is None:
            return served
        return format_html(
            "{}<br>{}",
            served,
            _(
                "fitted temperature %(f)s on %(n)s calibration recordings: %(why)s; their "
                "expected calibration error %(b)s before, %(a)s after"
            )
            % {"f": fit["fitted_temperature"], "n": fit["cases"], "b": fit["ece_before"],
               "a": fit["ece_after"], "why": CALIBRATION_DECISIONS[fit["decision"]]},
        )  # fmt: skip

    @admin.display(description=_("Log"))
    def log_text(self, obj):
        return format_html("<pre>{}</pre>", obj.log or "-")

    def has_add_permission(self, request):
        return False  # started from the "Start a training run" page, with a frozen snapshot

    def has_change_permission(self, request, obj=None):
        return False  # a record of what ran: the actions and the start page are the only writes

    def has_delete_permission(self, request, obj=None):
        return False

    def get_actions(self, request):
        return super().get_actions(request) if request.user.is_superuser else {}

    def get_urls(self):
        view = self.admin_site.admin_view(self.start_view)
        return [
            path("start/", view, name="diagnostics_trainingrun_start"),
            *super().get_urls(),
        ]

    def start_view(self, request):
        if not request.user.is_superuser:
            raise PermissionDenied
        form = StartTrainingForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                run = training.start_training_run(
                    actor=request.user, parameters=form.cleaned_data, audit=AuditContext.of(request)
                )
            except DomainError as refused:
                form.add_error(None, refused.message)
            else:
                messages.success(request, _("Training run %(id)s is queued.") % {"id": run.pk})
                return redirect("admin:diagnostics_trainingrun_change", run.pk)
        examples = training.training_diagnostics().count()
        context = {
            **self.admin_site.each_context(request), "opts": self.model._meta, "form": form,
            "title": _("Start a training run"), "examples": examples,
        }  # fmt: skip
        return TemplateResponse(request, "admin/diagnostics/trainingrun/start.html", context)

    @admin.action(description=_("Cancel the selected runs"))
    def cancel(self, request, queryset):
        for run in queryset.exclude(status__in=[TrainingStatus.SUCCEEDED, TrainingStatus.FAILED,
                                                TrainingStatus.CANCELLED]):  # fmt: skip
            training.cancel_training_run(
                run=run, actor=request.user, audit=AuditContext.of(request)
            )
        messages.success(request, _("Cancellation requested."))

    @admin.action(description=_("Reproduce from the same snapshot"))
    def reproduce(self, request, queryset):
        for run in queryset:
            again = training.reproduce_training_run(
                run=run, actor=request.user, audit=AuditContext.of(request)
            )
            messages.success(request, _("Training run %(id)s is queued.") % {"id": again.pk})
