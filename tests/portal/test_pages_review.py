"""Reviewing a result: confirm, correct (with a label) or inconclusive, with a note; the review
says who and when, leaves the queue, and is audited without its note."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from diagnostics.models import DiagnosticStatus
from diagnostics.reviews import ReviewRefused, record_dataset_label, review_diagnostic
from tests.factories import PatientFactory, UserFactory
from tests.factories_clinical import DiagnosticFactory, succeeded
from tests.portal.page_helpers import events, text_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def result(site):
    return succeeded(recording__patient=PatientFactory(site=site), label="anomaly")


def review(client, diagnostic, **data):
    return client.post(f"/diagnostics/{diagnostic.pk}/review/", data)


def test_confirming_keeps_the_models_label_and_records_who_and_when(signed_in, clinician, result):
    response = review(signed_in, result, decision="confirm", note="Crackles on auscultation.")

    assert response.status_code == 302 and response["Location"] == f"/diagnostics/{result.pk}/"
    result.refresh_from_db()
    assert result.review_label == "anomaly" and result.reviewed_by == clinician
    assert result.reviewed_at is not None and result.review_note == "Crackles on auscultation."
    page = text_of(signed_in.get(f"/diagnostics/{result.pk}/"))
    assert "Reviewed by clin on" in page and "possible respiratory anomaly" in page


def test_a_data_sets_label_is_shown_as_imported_not_as_a_former_users_review(signed_in, result):
    """An imported label has no reviewer; it read "Reviewed by a former user", which it was not."""
    record_dataset_label(diagnostic=result, label="healthy", source="COUGHVID",
                         status_field="status", status="healthy", licence="CC BY 4.0")  # fmt: skip

    pages = [text_of(signed_in.get(url)) for url in (
        f"/diagnostics/{result.pk}/", f"/diagnostics/{result.pk}/card/",
        f"/patients/{result.patient_id}/",
    )]  # fmt: skip

    for page in pages:
        assert "Label imported with the data set on" in page and "former user" not in page
    assert "Label from the COUGHVID data set" in pages[0]  # the note says which


def test_a_review_by_an_account_since_deleted_still_says_a_former_user(signed_in, result):
    reviewer = UserFactory()
    review_diagnostic(diagnostic=result, actor=reviewer, decision="confirm")
    reviewer.delete()

    page = text_of(signed_in.get(f"/diagnostics/{result.pk}/"))

    assert "Reviewed by a former user on" in page and "imported" not in page


def test_correcting_sets_the_chosen_label(signed_in, result):
    review(signed_in, result, decision="correct", label="healthy")

    result.refresh_from_db()
    assert result.review_label == "healthy"


def test_a_correction_without_a_label_is_refused_with_a_message(signed_in, result):
    response = review(signed_in, result, decision="correct", label="")

    assert response.status_code == 400
    assert "Choose the correct label." in text_of(response)
    result.refresh_from_db()
    assert result.review_label == ""


def test_inconclusive_marks_the_case_inconclusive(signed_in, result):
    review(signed_in, result, decision="inconclusive")

    result.refresh_from_db()
    assert result.review_label == "inconclusive"


def test_the_review_is_audited_by_decision_never_by_note(signed_in, result):
    review(signed_in, result, decision="correct", label="healthy", note="Patient name in note")

    (event,) = events("diagnostic.reviewed")
    assert event.patient_id == result.patient_id
    assert event.detail["decision"] == "correct"
    assert "Patient name" not in str(event.detail)


def test_a_reviewed_result_leaves_the_queue_and_the_navigation_count_drops(signed_in, site, result):
    succeeded(recording__patient=PatientFactory(site=site))
    before = signed_in.get("/review/")

    review(signed_in, result, decision="confirm", next="/review/")
    after = signed_in.get("/review/")

    assert before.context["page"].count == 2 and after.context["page"].count == 1
    assert result.pk not in [d.pk for d in after.context["page"].items]
    assert b"data-review-count>1<" in after.content


def test_review_redirects_only_to_this_site(signed_in, result):
    response = review(signed_in, result, decision="confirm", next="https://evil.example/")

    assert response["Location"] == f"/diagnostics/{result.pk}/"


def test_a_result_not_yet_finished_cannot_be_reviewed(clinician, site):
    queued = DiagnosticFactory(recording__patient=PatientFactory(site=site))

    with pytest.raises(ReviewRefused):
        review_diagnostic(diagnostic=queued, actor=clinician, decision="confirm")
    queued.refresh_from_db()
    assert queued.status == DiagnosticStatus.QUEUED and queued.review_label == ""


def test_the_queue_can_list_the_oldest_first_and_shows_the_shortcuts(signed_in, site):
    newer = succeeded(recording__patient=PatientFactory(site=site))
    older = succeeded(recording__patient=PatientFactory(site=site))
    type(older).objects.filter(pk=older.pk).update(queued_at=newer.queued_at.replace(year=2020))

    response = signed_in.get("/review/?order=oldest")

    assert [d.pk for d in response.context["page"].items] == [older.pk, newer.pk]
    for key in ("j", "k", "p", "c", "x", "i"):
        assert f"<kbd>{key}</kbd>".encode() in response.content


def _waiting_counts(queries) -> list[str]:
    return [q["sql"] for q in queries if "COUNT(*)" in q["sql"] and "review_label" in q["sql"]]


def test_the_navigation_shows_99_plus_and_reads_no_more_rows_than_that(
    signed_in, site, monkeypatch
):
    monkeypatch.setattr("portal.pages.selectors.BADGE_CAP", 3)
    patient = PatientFactory(site=site)
    for _ in range(4):
        succeeded(recording__patient=patient)

    with CaptureQueriesContext(connection) as queries:
        page = signed_in.get(f"/patients/{patient.pk}/")

    assert b"data-review-count>3+<" in page.content
    (count,) = _waiting_counts(queries)
    assert "LIMIT 4" in count  # the cap and one more, not every waiting result


@pytest.mark.parametrize("path", ["/", "/review/"])
def test_pages_that_count_every_waiting_result_lend_the_badge_their_count(
    signed_in, site, monkeypatch, path
):
    monkeypatch.setattr("portal.pages.selectors.BADGE_CAP", 3)
    patient = PatientFactory(site=site)
    for _ in range(5):
        succeeded(recording__patient=patient)

    with CaptureQueriesContext(connection) as queries:
        page = signed_in.get(path)

    assert b"data-review-count>3+<" in page.content
    (count,) = _waiting_counts(queries)  # one count, up to COUNT_CAP, for the page and the badge
    assert "LIMIT 1001" in count
    if path == "/":
        assert page.context["summary"].to_review == (5, False)
        assert '<span class="stat-value">5</span>' in page.content.decode()
