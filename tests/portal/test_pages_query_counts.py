"""The busy pages cost a fixed number of queries, however many rows they show: no N+1.

Each test renders the page with one row and with many, under the same django_assert_num_queries
budget. The budgets count the session and user lookups, the second-factor gate (does this
clinician hold a role that needs one?), the site gate, the page's own queries, the audit insert and
the review count in the navigation. The session is not written: each test
renews it first, and it is renewed at most once a ``SESSION_RENEW_SECONDS`` (``portal.core.sessions``).
"""

import pytest

from portal.core.models import AuditEvent
from tests.factories import PatientFactory
from tests.factories_clinical import DiagnosticFactory, RecordingFactory, failed, succeeded

pytestmark = pytest.mark.django_db


PATIENT_LIST_QUERIES = 8
PATIENT_PAGE_QUERIES = 9
REVIEW_QUEUE_QUERIES = 8  # the priority order ranks ids, then reads the page whole
CARD_UNCHANGED_QUERIES = 5  # session, user, second-factor gate, sites, the diagnostic


@pytest.fixture
def signed_in(signed_in):
    signed_in.get("/healthz")  # renews the session: the requests measured fall within the interval
    return signed_in


def test_the_patient_list_costs_the_same_for_one_patient_or_a_full_page(
    signed_in, site, django_assert_num_queries
):
    PatientFactory(site=site)
    with django_assert_num_queries(PATIENT_LIST_QUERIES):
        assert len(signed_in.get("/patients/").context["page"].items) == 1

    for _ in range(40):
        succeeded(recording__patient=PatientFactory(site=site))
    with django_assert_num_queries(PATIENT_LIST_QUERIES):
        assert len(signed_in.get("/patients/").context["page"].items) == 25
    searched = signed_in.post("/patients/", {"q": "patientson", "to_review": "on", "consent": "no"})
    with django_assert_num_queries(PATIENT_LIST_QUERIES):
        signed_in.get(searched["Location"])


def test_the_patient_page_costs_the_same_for_one_recording_or_many(
    signed_in, site, django_assert_num_queries
):
    patient = PatientFactory(site=site)
    succeeded(recording__patient=patient)
    url = f"/patients/{patient.pk}/"
    with django_assert_num_queries(PATIENT_PAGE_QUERIES):
        signed_in.get(url)

    for _ in range(6):
        succeeded(recording__patient=patient, reviewed_by=None)
        failed(recording__patient=patient)
    RecordingFactory(patient=patient)  # not analysed
    with django_assert_num_queries(PATIENT_PAGE_QUERIES):
        signed_in.get(url)

    # Waiting results add one query for their queue positions, whatever their number.
    DiagnosticFactory(recording__patient=patient)
    with django_assert_num_queries(PATIENT_PAGE_QUERIES + 1):
        signed_in.get(url)
    for _ in range(6):
        DiagnosticFactory(recording__patient=patient)
    with django_assert_num_queries(PATIENT_PAGE_QUERIES + 1):
        page = signed_in.get(url)
    assert len(page.context["timeline"].items) == 20
    assert "position 7 in the queue" in page.content.decode()


def test_the_review_queue_costs_the_same_for_one_result_or_a_full_page(
    signed_in, site, django_assert_num_queries
):
    succeeded(recording__patient=PatientFactory(site=site))
    with django_assert_num_queries(REVIEW_QUEUE_QUERIES):
        signed_in.get("/review/")

    for _ in range(30):
        succeeded(recording__patient=PatientFactory(site=site))
    with django_assert_num_queries(REVIEW_QUEUE_QUERIES):
        assert len(signed_in.get("/review/").context["page"].items) == 25


def test_the_cards_polling_answer_reads_the_diagnostic_once_and_records_nothing(
    signed_in, site, django_assert_num_queries
):
    """The patient page's fallback asks every few seconds whether a waiting result changed
    (``?unless=<status>``): while it has not, one read of the diagnostic, no queue position, no
    audit event; once it has, the card with its position."""
    waiting = DiagnosticFactory(recording__patient=PatientFactory(site=site))
    DiagnosticFactory(recording__patient=PatientFactory(site=site))  # queued behind it
    url = f"/diagnostics/{waiting.pk}/card/"
    with django_assert_num_queries(CARD_UNCHANGED_QUERIES):
        assert signed_in.get(f"{url}?unless=queued").status_code == 204
    assert not AuditEvent.objects.filter(action="diagnostic.viewed").exists()

    # The page thought it running (a missed message): the card, position and audit event.
    with django_assert_num_queries(CARD_UNCHANGED_QUERIES + 2):
        card = signed_in.get(f"{url}?unless=running")
    assert card.status_code == 200
    assert "position 1 in the queue" in card.content.decode()
    assert (
        AuditEvent.objects.filter(action="diagnostic.viewed", object_id=str(waiting.pk)).count()
        == 1
    )
