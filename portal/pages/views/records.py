"""A patient from the hospital's record: search the record (FHIR) by number or name, pick a
record, and the local patient is created from it, linked by the record's identifier, instead of
being typed a second time. Searches are posted (names never reach a URL) and audited without
their terms."""

from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from portal.core.audit import AuditContext, record_event
from portal.core.errors import DomainError, answer_for
from portal.fhir import records
from portal.fhir.client import configured
from portal.pages.forms import RecordPickForm, RecordSearchForm
from portal.pages.views.access import clinician_required


@require_http_methods(["GET", "HEAD", "POST"])
@clinician_required
def patient_from_record(request):
    if not configured():
        raise Http404  # no hospital record configured (the embedded default)
    sites = request.workspace.sites
    default_site = request.workspace.site or sites[0]
    search = RecordSearchForm(request.POST if "search" in request.POST else None)
    pick = RecordPickForm(request.POST if "record" in request.POST else None, sites=sites,
                          initial={"site": default_site.pk})  # fmt: skip
    found, status = None, 200
    try:
        if pick.is_bound and pick.is_valid():
            patient = records.create_from_record(
                site=pick.cleaned_data.get("site", default_site), actor=request.user,
                record_id=pick.cleaned_data["record"], audit=AuditContext.of(request),
            )  # fmt: skip
            return redirect("pages:patient-detail", pk=patient.pk)
        if search.is_bound and search.is_valid():
            found = records.search_records(
                identifier=search.cleaned_data["identifier"], name=search.cleaned_data["name"]
            )
            record_event(
                action="fhir.record_searched", actor=request.user, context=AuditContext.of(request),
                detail={"by": "identifier" if search.cleaned_data["identifier"].strip() else "name",
                        "results": len(found)},
            )  # fmt: skip
    except DomainError as refused:  # taken external id, unusable record, record unreachable
        (pick if pick.is_bound else search).add_error(None, refused.message)
        status = answer_for(refused).http_status
    if status == 200 and request.method == "POST" and found is None:
        status = 400  # neither form was valid
    return render(request, "portal/patient_from_record.html", {
        "search": search, "pick": pick, "found": found, "many_sites": len(sites) > 1,
    }, status=status)  # fmt: skip
