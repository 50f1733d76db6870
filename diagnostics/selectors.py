"""Reads of diagnostics, scoped by ``portal.core.permissions``."""

from django.db.models import QuerySet

from diagnostics.models import Diagnostic
from portal.core import permissions


def diagnostics_for(user) -> QuerySet[Diagnostic]:
    return permissions.restrict(Diagnostic.objects.all(), user)


def visible_diagnostic(user, pk: int) -> Diagnostic:
    """The diagnostic with its model version, patient and recording, or ``NotVisible``."""
    return permissions.visible(
        Diagnostic.objects.select_related("model_version", "patient", "recording"), user, pk
    )
