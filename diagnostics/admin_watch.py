"""Admin pages for watching the model: agreement with reviewers (a confusion matrix and a weekly
chart, from the daily rows) and, on a model version's page, its trial against production, its
rollback and its input drift.

The agreement page is the changelist of ``DailyAgreement``: filtered by model version, site and
number of weeks, scoped to the sites the user may see (``portal.core.permissions.restrict``).
"""

from django.contrib import admin
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from diagnostics import agreement, agreement_chart, canary, drift
from diagnostics.models import DailyAgreement, Label, ModelStatus, ModelVersion
from portal.core.admin_base import RecordAdmin
from portal.core.permissions import restrict, sites_for

WEEK_CHOICES = (4, 12, 26, 52)


@admin.register(DailyAgreement)
class DailyAgreementAdmin(RecordAdmin):
    """Read-only: the rows are the beat task's (``diagnostics.watch``)."""

    def changelist_view(self, request, extra_context=None):
        if not self.has_view_or_change_permission(request):
            return super().changelist_view(request, extra_context)
        weeks = _int(request.GET.get("weeks"), 12, WEEK_CHOICES)
        today = timezone.localdate()
        shown_weeks = agreement_chart.mondays(today, weeks)
        rows = restrict(DailyAgreement.objects.all(), request.user).filter(day__gte=shown_weeks[0])
        version_id = _int(request.GET.get("model_version"), None)
        site_id = _int(request.GET.get("site"), None)
        if version_id is not None:
            rows = rows.filter(model_version_id=version_id)
        if site_id is not None:
            rows = rows.filter(site_id=site_id)
        matrix = agreement.confusion_matrix(rows)
        series = agreement.weekly_agreement(rows)
        context = {
            **self.admin_site.each_context(request),
            "title": _("Agreement between the model and its reviewers"),
            "opts": self.model._meta,
            "weeks": weeks,
            "week_choices": WEEK_CHOICES,
            "versions": ModelVersion.objects.only("name", "version").order_by("-created_at"),
            "sites": sites_for(request.user).order_by("name"),
            "version_id": version_id,
            "site_id": site_id,
            "matrix": _matrix_rows(matrix),
            "totals": matrix,
            "chart": agreement_chart.chart(series, shown_weeks),
            "series": series,
            "refreshed": rows.exists(),
            **(extra_context or {}),
        }
        return TemplateResponse(request, "admin/diagnostics/agreement.html", context)


def _int(value, default, allowed=None):
    try:
        number = int(value)
    except (TypeError, ValueError):
        return default
    return number if allowed is None or number in allowed else default


def _matrix_rows(matrix: dict) -> list[dict]:
    """Rows of the confusion matrix: the model's answer down, the reviewer's label across."""
    labels = matrix["labels"]
    return [
        {"label": Label(model).label, "value": model,
         "cells": [{"count": matrix["cells"].get((model, review), 0),
                    "agrees": model == review, "review": review} for review in labels]}
        for model in labels
    ]  # fmt: skip


# --- on a model version's page ----------------------------------------------------------------------


@admin.display(description=gettext_lazy("Trial against production"))
def trial_comparison(obj: ModelVersion):
    """The live comparison of a canary or shadow (what the automatic rollback judges)."""
    if obj.status not in (ModelStatus.CANARY, ModelStatus.SHADOW):
        return "-"
    comparison = canary.compare(obj)
    if comparison is None:
        return _("No production model to compare with.")
    rows = []
    for measure, base in (("agreement", "reviewed"), ("inconclusive_rate", "succeeded"),
                          ("error_rate", "analysed")):  # fmt: skip
        rows.append((
            measure.replace("_", " "),
            _share(getattr(comparison.trial, measure)), getattr(comparison.trial, base),
            _share(getattr(comparison.serving, measure)), getattr(comparison.serving, base),
        ))  # fmt: skip
    body = format_html_join(
        "", "<tr><th scope='row'>{}</th><td>{} (n={})</td><td>{} (n={})</td></tr>", rows
    )
    return format_html(
        "<table><caption>{}</caption><tr><th></th><th>{}</th><th>{}</th></tr>{}</table>",
        _("Since %(since)s, %(mode)s")
        % {
            "since": comparison.since.strftime("%Y-%m-%d %H:%M"),
            "mode": comparison.mode,
        },
        obj,
        comparison.production,
        body,
    )


@admin.display(description=gettext_lazy("Last automatic rollback"))
def rollback_summary(obj: ModelVersion):
    if not obj.rolled_back_at:
        return "-"
    reasons = format_html_join(
        "", "<li>{}: {} against production's {} (bound {})</li>",
        ((r["measure"].replace("_", " "), _share(r["candidate"]), _share(r["production"]),
          r["bound"]) for r in obj.rollback_reasons),
    )  # fmt: skip
    return format_html("{}<ul>{}</ul>", obj.rolled_back_at.strftime("%Y-%m-%d %H:%M %Z"), reasons)


@admin.display(description=gettext_lazy("Input drift (last days, against the reference)"))
def input_drift(obj: ModelVersion):
    if not obj.input_reference:
        return _("No reference recorded (manage.py record_input_reference).")
    measures = drift.drift(obj)
    return format_html_join(
        ", ", "{}: {}", ((name, "-" if v is None else f"{v:.2f}") for name, v in measures.items())
    )


def _share(value) -> str:
    return "-" if value is None else f"{value:.1%}"
