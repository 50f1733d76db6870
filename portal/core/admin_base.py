"""What every admin page of the project shares: audit of changes, and CSV export of rows.

Django's own admin log (LogEntry) stays; every add, change and delete is also written to the
append-only audit trail with the request id and the names of the changed fields (never values).
Reads of patient records are audited as the pages and the API audit them: opening one names it and
its patient, a list names the ids it showed. An export names the ids it wrote, and its cells
cannot run as spreadsheet formulas.
"""

import csv

from django.contrib import admin, messages
from django.http import StreamingHttpResponse
from django.utils.translation import gettext_lazy as _

from portal.core.audit import AuditContext, record_event


def _patient_of(obj):
    from portal.core.models import Patient

    if isinstance(obj, Patient):
        return obj
    return getattr(obj, "patient", None)


def _changed_fields(message) -> list[str]:
    fields: list[str] = []
    for entry in message if isinstance(message, list) else []:
        for detail in entry.values():
            fields.extend(detail.get("fields", []) if isinstance(detail, dict) else [])
    return fields


def _audit(request, action: str, obj, detail: dict | None = None) -> None:
    record_event(
        action=action, actor=request.user, obj=obj, patient=_patient_of(obj),
        context=AuditContext.of(request), detail=detail,
    )  # fmt: skip


def _bears_patients(model) -> bool:
    from portal.core.models import Patient

    return model is Patient or any(
        getattr(field, "related_model", None) is Patient for field in model._meta.concrete_fields
    )


class AuditedModelAdmin(admin.ModelAdmin):
    """A ModelAdmin whose writes, and reads of patient records, land in the audit trail too."""

    def change_view(self, request, object_id, form_url="", extra_context=None):
        response = super().change_view(request, object_id, form_url, extra_context)
        obj = getattr(response, "context_data", {}).get("original")
        patient = _patient_of(obj) if obj is not None else None
        if request.method == "GET" and response.status_code == 200 and patient is not None:
            _audit(request, "admin.viewed", obj)
        return response

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context)
        changelist = getattr(response, "context_data", {}).get("cl")
        if changelist is not None and _bears_patients(self.model):
            rows = list(changelist.result_list)  # the page the template shows (and now cached)
            record_event(
                action="admin.listed", actor=request.user, context=AuditContext.of(request),
                detail={"model": self.model._meta.label_lower,
                        "ids": [str(row.pk) for row in rows],
                        "patients": sorted({str(_patient_of(row).pk) for row in rows})},
            )  # fmt: skip
        return response

    def log_addition(self, request, obj, message):
        _audit(request, "admin.added", obj)
        return super().log_addition(request, obj, message)

    def log_change(self, request, obj, message):
        _audit(request, "admin.changed", obj, detail={"fields": _changed_fields(message)})
        return super().log_change(request, obj, message)

    def log_deletions(self, request, queryset):
        for obj in queryset:
            _audit(request, "admin.deleted", obj)
        return super().log_deletions(request, queryset)


class PatientColumn:
    """A list column naming the row's patient: ``list_display = ["patient_name", ...]`` with
    ``list_select_related = ["patient"]``. Shown to staff only; ``__str__`` stays a number, since
    object reprs reach logs."""

    @admin.display(description=_("patient"), ordering="patient__search_name")
    def patient_name(self, obj) -> str:
        return f"{obj.patient.full_name} ({obj.patient.external_id})"


class _Echo:
    def write(self, value):
        return value


@admin.action(description=_("Export the selected rows as CSV"))
def export_as_csv(modeladmin, request, queryset):
    """Stream the list columns of the selected rows; the export itself is audited."""
    names = [name for name in modeladmin.get_list_display(request) if name != "action_checkbox"]
    rows = list(queryset)
    record_event(
        action="admin.exported", actor=request.user, context=AuditContext.of(request),
        detail={"model": queryset.model._meta.label_lower, "rows": len(rows), "columns": names,
                "ids": [str(row.pk) for row in rows]},
    )  # fmt: skip
    writer = csv.writer(_Echo())

    def lines():
        yield writer.writerow(names)
        for row in rows:
            yield writer.writerow([as_text(_cell(modeladmin, row, name)) for name in names])

    response = StreamingHttpResponse(lines(), content_type="text/csv")
    response["Content-Disposition"] = (
        f'attachment; filename="{queryset.model._meta.model_name}-export.csv"'
    )
    return response


# OWASP's CSV injection rule: a spreadsheet runs a cell that starts with one of these as a formula.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def as_text(value) -> str:
    """The cell as a spreadsheet shows it, never runs it: a leading ``'`` before a formula prefix."""
    text = "" if value is None else str(value)
    return f"'{text}" if text.startswith(FORMULA_PREFIXES) else text


def _cell(modeladmin, obj, name):
    if hasattr(modeladmin, name):
        return getattr(modeladmin, name)(obj)
    value = getattr(obj, name, "")
    return value() if callable(value) else value


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows the product writes (derived or logged), never added or edited by hand."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class InputFilter(admin.SimpleListFilter):
    """A sidebar filter typed rather than picked: for a column with too many values to list
    (every user who ever acted, every patient), which the changelist would otherwise have to
    read whole to offer. ``filter_value(queryset, value)`` applies it; a value it cannot use
    is answered with a message and an empty list, never an error page."""

    template = "admin/input_filter.html"
    invalid_message = _("That value cannot be used here.")

    def lookups(self, request, model_admin):
        return [("", "")]  # a filter with no lookups is not shown: the input is its one choice

    def queryset(self, request, queryset):
        value = (self.value() or "").strip()
        if not value:
            return queryset
        try:
            return self.filter_value(queryset, value)
        except ValueError:
            messages.warning(request, self.invalid_message)
            return queryset.none()

    def filter_value(self, queryset, value: str):
        raise NotImplementedError

    def get_facet_counts(self, pk_attname, filtered_qs):
        return {}  # a typed value has no choices to count

    def choices(self, changelist):
        """One choice, the list without this filter, with the other parameters of the page that
        the input's form must carry."""
        yield {
            "selected": self.value() is None,
            "query_string": changelist.get_query_string(remove=[self.parameter_name]),
            "display": _("All"),
            "hidden": [
                (name, value)
                for name, values in changelist.filter_params.items()
                if name != self.parameter_name
                for value in values
            ],
        }


class RecordAdmin(ReadOnlyAdmin):
    """A record that must stay whole (the audit trail, aggregates): not deleted by hand either."""

    def has_delete_permission(self, request, obj=None):
        return False


class PseudonymAdmin(ReadOnlyAdmin):
    """Read-only: a pseudonym is made by the research export and never edited. Scoped, so only
    staff of the patient's site can link a research id back to a person."""

    list_display = ["value", "created_at"]
    search_fields = ["=value"]
