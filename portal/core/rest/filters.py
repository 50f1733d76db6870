"""Filter types shared by the API's filter sets."""

from django import forms
from django.contrib.auth.models import AnonymousUser
from django_filters import rest_framework as filters


def requester_choices(scope):
    """A choice filter's queryset: what ``scope(user)`` (a ``portal.core.permissions`` function)
    gives the request's user, so a filter can never name another site's object; nothing while the
    OpenAPI schema is generated, which has no request."""

    def queryset(request):
        return scope(request.user if request is not None else AnonymousUser())

    return queryset


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
