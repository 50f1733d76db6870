"""Display helpers of the clinician pages: the words shown for labels, statuses, symptoms and
quality warnings, the navigation, and the server-rendered SVG chart of the home page."""

from django import template
from django.conf import settings
from django.utils.formats import date_format
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from diagnostics import capacity
from diagnostics.models import DiagnosticStatus, Label
from diagnostics.symptoms import KNOWN_CONDITIONS
from portal.core.sessions import warning_script_age

register = template.Library()

QUALITY_WARNINGS = {
    "clipped": _("The sound was too loud and is distorted (clipped)."),
    "mostly_silent": _("The recording is mostly silence."),
    "too_quiet": _("The recording is very quiet."),
    "no_cough": _("No cough was heard in this recording."),
}
STATUS_TEXT = {
    DiagnosticStatus.QUEUED: _("Queued"),
    DiagnosticStatus.RUNNING: _("Analysing"),
    DiagnosticStatus.SUCCEEDED: _("Result ready"),
    DiagnosticStatus.FAILED: _("Analysis failed"),
    DiagnosticStatus.UNANALYSED: _("Not analysed"),
}
LABEL_ORDER = [Label.HEALTHY, Label.ANOMALY, Label.INCONCLUSIVE]


@register.filter
def label_text(value: str) -> str:
    """healthy -> "likely healthy", and so on: never the raw model label."""
    return Label(value).label if value in Label.values else ""


@register.filter
def status_text(value: str) -> str:
    return STATUS_TEXT.get(value, "")


@register.filter
def expected_wait(queue_position: int | None) -> int | None:
    """Seconds a waiting diagnostic at this position is expected to wait (the API's and the live
    message's ``expected_wait_s``, from ``diagnostics.capacity``)."""
    return capacity.expected_wait_s(queue_position)


@register.filter
def quality_warning_text(code: str) -> str:
    return QUALITY_WARNINGS.get(code, code)


@register.filter
def symptom_rows(symptoms: dict) -> list[tuple[str, str]]:
    """The recorded symptoms as (question, answer) pairs in plain words, in a fixed order."""
    symptoms = symptoms or {}
    yes_no = {True: gettext("Yes"), False: gettext("No")}
    rows = []
    if "fever" in symptoms:
        rows.append((gettext("Fever"), yes_no[symptoms["fever"]]))
    if "cough_days" in symptoms:
        rows.append((gettext("Cough for (days)"), str(symptoms["cough_days"])))
    if "shortness_of_breath" in symptoms:
        rows.append((gettext("Shortness of breath"), yes_no[symptoms["shortness_of_breath"]]))
    if symptoms.get("known_conditions"):
        names = [str(KNOWN_CONDITIONS[c]) for c in symptoms["known_conditions"]]
        rows.append((gettext("Known conditions"), ", ".join(names)))
    return rows


@register.filter
def percent(confidence) -> int | None:
    """0.873 -> 87, for the confidence bar and its text."""
    if confidence is None:
        return None
    return round(float(confidence) * 100)


@register.simple_tag
def session_seconds() -> int:
    return warning_script_age()


@register.simple_tag
def session_warning_seconds() -> int:
    return settings.SESSION_EXPIRY_WARNING_SECONDS


@register.inclusion_tag("portal/_nav.html", takes_context=True)
def portal_nav(context):
    """The navigation of a clinical page: uses the workspace its gate already loaded."""
    request = context["request"]
    workspace = getattr(request, "workspace", None)
    if workspace is None:
        return {"workspace": None}
    count, capped = workspace.review_badge
    return {
        "workspace": workspace,
        "request": request,
        "review_count": count,
        "review_count_capped": capped,
        "csrf_token": context.get("csrf_token"),
    }


CHART_WIDTH, CHART_HEIGHT, CHART_BOTTOM, CHART_TOP = 560, 200, 24, 16


@register.inclusion_tag("portal/_results_chart.html")
def results_chart(days: list[dict]):
    """Stacked bars per day (healthy, anomaly, inconclusive), scaled to the busiest day.

    Geometry is computed here so the template only places rectangles; the SVG needs no script
    and no inline style, so it renders under the page's strict CSP and prints well.
    """
    peak = max((sum(day["counts"].values()) for day in days), default=0) or 1
    slot = CHART_WIDTH / max(len(days), 1)
    usable = CHART_HEIGHT - CHART_BOTTOM - CHART_TOP
    bars = []
    for index, day in enumerate(days):
        x = round(index * slot + slot * 0.15, 1)
        y = CHART_HEIGHT - CHART_BOTTOM
        segments = []
        for label in LABEL_ORDER:
            count = day["counts"].get(label.value, 0)
            height = round(usable * count / peak, 1)
            y = round(y - height, 1)
            if count:
                segments.append({"label": label, "count": count, "y": y, "height": height})
        total = sum(day["counts"].values())
        bars.append({
            "x": x, "width": round(slot * 0.7, 1), "segments": segments, "total": total,
            "top": round(y - 4, 1), "text_x": round(x + slot * 0.35, 1),
            "day": day["day"], "day_label": date_format(day["day"], "j"),
            "day_long": date_format(day["day"], "DATE_FORMAT"),
        })  # fmt: skip
    return {
        "bars": bars, "width": CHART_WIDTH, "height": CHART_HEIGHT,
        "axis_y": CHART_HEIGHT - CHART_BOTTOM, "label_y": CHART_HEIGHT - 6,
        "legend": [(label, label.label) for label in LABEL_ORDER],
        "empty": all(bar["total"] == 0 for bar in bars),
    }  # fmt: skip
