"""The symptoms a clinician records with a recording: a closed vocabulary, never free text.

Research exports carry symptoms, and Safe Harbor forbids free text there, so known conditions are
chosen from a list and every value is checked here, once, for the API and the pages alike.
"""

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

KNOWN_CONDITIONS = {
    "asthma": _("Asthma"),
    "copd": _("COPD"),
    "heart_failure": _("Heart failure"),
    "diabetes": _("Diabetes"),
    "smoker": _("Current smoker"),
    "immunocompromised": _("Immunocompromised"),
}
MAX_COUGH_DAYS = 365


def clean_symptoms(raw) -> dict:
    """Validate and normalise a symptoms mapping; raises ``ValidationError`` with a clear message."""
    if raw in (None, "", {}):
        return {}
    if not isinstance(raw, dict):
        raise ValidationError(_("Symptoms must be a JSON object."))
    unknown = set(raw) - {"fever", "cough_days", "shortness_of_breath", "known_conditions"}
    if unknown:
        raise ValidationError(
            _("Unknown symptom fields: %(fields)s."), params={"fields": ", ".join(sorted(unknown))}
        )
    cleaned = {}
    for flag in ("fever", "shortness_of_breath"):
        if flag in raw:
            if not isinstance(raw[flag], bool):
                raise ValidationError(_("%(field)s must be true or false."), params={"field": flag})
            cleaned[flag] = raw[flag]
    if "cough_days" in raw:
        days = raw["cough_days"]
        if isinstance(days, bool) or not isinstance(days, int) or not 0 <= days <= MAX_COUGH_DAYS:
            raise ValidationError(
                _("cough_days must be a whole number of days from 0 to %(max)s."),
                params={"max": MAX_COUGH_DAYS},
            )
        cleaned["cough_days"] = days
    if "known_conditions" in raw:
        conditions = raw["known_conditions"]
        if not isinstance(conditions, list) or not all(c in KNOWN_CONDITIONS for c in conditions):
            raise ValidationError(
                _("known_conditions must be a list drawn from: %(choices)s."),
                params={"choices": ", ".join(KNOWN_CONDITIONS)},
            )
        cleaned["known_conditions"] = sorted(set(conditions))
    return cleaned
