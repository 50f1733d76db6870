"""Who may call which part of the REST API: the gate in front of every view.

Rows are scoped by ``portal.core.permissions`` inside each view; these classes only decide whether a user
may use a *kind* of endpoint at all, and they ask the same module. Clinical endpoints are the
default (``DEFAULT_PERMISSION_CLASSES``), so a new view is closed to researchers unless it says
otherwise; research views name ``IsResearcher``. A user who holds no role for the endpoint gets 403,
an anonymous one 401.
"""

from rest_framework.permissions import BasePermission

from portal.core import permissions


class IsClinician(BasePermission):
    """Clinicians and site administrators of at least one site (and administrators)."""

    message = "This endpoint is for clinicians."

    def has_permission(self, request, view) -> bool:
        return permissions.has_clinical_role(request.user)


class IsResearcher(BasePermission):
    """Users with a researcher membership at at least one site."""

    message = "This endpoint is for researchers."

    def has_permission(self, request, view) -> bool:
        return permissions.research_sites(request.user).exists()


class IsSiteMember(BasePermission):
    """Any role at any site: for reference data that holds nothing about patients."""

    message = "This endpoint is for members of a site."

    def has_permission(self, request, view) -> bool:
        return IsClinician().has_permission(request, view) or IsResearcher().has_permission(
            request, view
        )
