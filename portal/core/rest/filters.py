"""Filter types shared by the API's filter sets."""

from django import forms
from django_filters import rest_framework as filters


class _StrictNullBooleanField(forms.NullBooleanField):
    """``true``/``false`` (or 1/0) or nothing: a typo is an error, not a silently dropped filter."""

    def to_python(self, value):
        if value in (None, ""):
            return None
        if str(value).lower() in ("true", "1"):
            return True
        if str(value).lower() in ("false", "0"):
            return False
        raise forms.ValidationError("Enter true or false.", code="invalid")

    def validate(self, value):
        pass


class StrictBooleanFilter(filters.BooleanFilter):
    field_class = _StrictNullBooleanField

    def __init__(self, *args, **kwargs):
        # DRF's BooleanFilter reads the value through a widget that turns any typo into "unset".
        kwargs.setdefault("widget", forms.TextInput)
        super().__init__(*args, **kwargs)
