"""Patients: the searchable list, create and edit, and the patient page with its timeline and
recorder. Every page that shows a patient's data writes an audit event."""

import secrets

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_safe

from diagnostics.symptoms import KNOWN_CONDITIONS
from media_assets.models import MIN_SECONDS_BY_KIND, RecordingKind
from portal.core import permissions, services
from portal.core.audit import AuditContext, record_event
from portal.fhir import client as fhir_client
from portal.pages.forms import PatientForm, PatientSearchForm
from portal.pages.selectors import patient_list, patient_timeline
from portal.pages.views.access import clinician_required

SEARCHES_KEPT = 20


def _remember_search(request, criteria: dict) -> str:
    """Keep a search in the session under a random token: names and external ids never reach a
    URL (browser history, proxy and server logs), yet the results page can be reloaded, paged
    and bookmarked for the session."""
    searches = request.session.get("patient_searches", {})
    token = secrets.token_urlsafe(9)
    searches[token] = criteria
    request.session["patient_searches"] = dict(list(searches.items())[-SEARCHES_KEPT:])
    return token


@require_http_methods(["GET", "HEAD", "POST"])
@clinician_required
def patient_index(request):
    if request.method == "POST":
        search = PatientSearchForm(request.POST)
        if search.is_valid():
            criteria = search.criteria()
            if not any(criteria.values()):
                return redirect("pages:patient-list")
            token = _remember_search(request, criteria)
            return redirect(f"{reverse('pages:patient-list')}?search={token}")
        filters, status = PatientSearchForm.NO_FILTERS, 400
    else:
        token = request.GET.get("search")
        criteria = request.session.get("patient_searches", {}).get(token, {}) if token else {}
        if token and not criteria:
            messages.info(request, _("That search has expired. Please search again."))
        paging = {key: request.GET[key] for key in ("after", "before") if key in request.GET}
        search = PatientSearchForm({**criteria, **paging})
        filters, status = search.filters(), 200
    page = patient_list(request.workspace, **filters)
    # Which patients were listed, never what was searched for: the query may be a name.
    record_event(
        action="patient.listed", actor=request.user, context=AuditContext.of(request),
        detail={"patients": [p.pk for p in page.items],
                "filters": sorted(k for k in ("query", "consent", "to_review")
                                  if filters[k] not in ("", None, False))},
    )  # fmt: skip
    return render(request, "portal/patient_list.html", {
        "search": search, "page": page, "filters": filters, "workspace": request.workspace,
    }, status=status)  # fmt: skip


def _saved(form, write):
    """Run ``write()``; map the service's refusals onto the form. The patient, or None."""
    try:
        return write()
    except services.ExternalIdTaken as taken:
        form.add_error(taken.field, taken.message)
    except ValidationError as invalid:
        form.add_error(None, invalid)
    return None


@require_http_methods(["GET", "HEAD", "POST"])
@clinician_required
def patient_create(request):
    workspace = request.workspace
    default_site = workspace.site or workspace.sites[0]
    form = PatientForm(
        request.POST or None, sites=workspace.sites, initial={"site": default_site.pk}
    )
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        site = data.pop("site", default_site)
        patient = _saved(form, lambda: services.create_patient(
            site=site, actor=request.user, audit=AuditContext.of(request), **data
        ))  # fmt: skip
        if patient is not None:
            return redirect("pages:patient-detail", pk=patient.pk)
    return render(request, "portal/patient_form.html", {
        "form": form, "creating": True, "from_record": fhir_client.configured(),
    })  # fmt: skip


@require_http_methods(["GET", "HEAD", "POST"])
@clinician_required
def patient_edit(request, pk: int):
    patient = permissions.visible_patient(request.user, pk)
    initial = {name: getattr(patient, name) for name in services.EDITABLE_FIELDS}
    form = PatientForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        saved = _saved(form, lambda: services.update_patient(
            patient=patient, actor=request.user, audit=AuditContext.of(request), **form.cleaned_data
        ))  # fmt: skip
        if saved is not None:
            return redirect("pages:patient-detail", pk=patient.pk)
    elif request.method != "POST":
        record_event(action="patient.viewed", obj=patient, actor=request.user, context=AuditContext.of(request),
                     detail={"page": "edit"})  # fmt: skip
    return render(request, "portal/patient_form.html", {
        "form": form, "creating": False, "patient": patient,
    })  # fmt: skip


@require_safe
@clinician_required
def patient_detail(request, pk: int):
    patient = permissions.visible_patient(request.user, pk)
    try:
        before = int(request.GET.get("before", "")) or None
    except ValueError:
        before = None
    timeline = patient_timeline(patient, before=before)
    record_event(
        action="patient.viewed", obj=patient, actor=request.user, context=AuditContext.of(request)
    )
    return render(request, "portal/patient_detail.html", {
        "patient": patient, "timeline": timeline, "recorder": recorder_context(),
        "older_page": before is not None,
    })  # fmt: skip


def recorder_context() -> dict:
    """What the recorder widget needs, passed to its script as data attributes and JSON."""
    return {
        "max_seconds": int(settings.RECORDING_MAX_SECONDS),
        "kinds": [
            {"value": kind.value, "label": kind.label, "min_seconds": MIN_SECONDS_BY_KIND[kind]}
            for kind in RecordingKind
        ],
        "conditions": list(KNOWN_CONDITIONS.items()),
        "upload_url": reverse("recording-upload"),
    }
