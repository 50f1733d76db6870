"""The pages are translated, also in JavaScript, and Arabic mirrors the layout (dir="rtl")."""

import json

import pytest
from django.utils import translation

from tests.factories import PatientFactory
from tests.factories_clinical import succeeded
from tests.portal.page_helpers import text_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def in_arabic(signed_in):
    signed_in.cookies["django_language"] = "ar"
    yield signed_in
    translation.activate("en")


def test_english_is_the_default_left_to_right(signed_in):
    response = signed_in.get("/patients/")

    assert b'<html lang="en" dir="ltr">' in response.content


def test_arabic_pages_are_right_to_left_and_translated(in_arabic, site):
    diagnostic = succeeded(recording__patient=PatientFactory(site=site), label="healthy")

    page = in_arabic.get(f"/patients/{diagnostic.patient_id}/")

    assert b'<html lang="ar" dir="rtl">' in page.content
    text = text_of(page)
    assert "التسجيلات والنتائج" in text  # Recordings and results
    assert "سليم على الأرجح" in text  # likely healthy
    assert "ليس للاستخدام السريري" in text  # the synthetic notice


def test_the_javascript_catalogue_is_served_in_the_users_language(in_arabic):
    response = in_arabic.get("/jsi18n/")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/javascript")
    body = response.content.decode()
    assert "The connection dropped." in body  # the key, with its translation (JSON-escaped)
    assert json.dumps("انقطع الاتصال")[1:-1] in body
    assert "pluralidx" in body


def test_the_language_switcher_stores_the_choice(signed_in):
    response = signed_in.post("/i18n/setlang/", {"language": "ar", "next": "/patients/"})

    assert response.status_code == 302 and response["Location"] == "/patients/"
    assert b'dir="rtl"' in signed_in.get("/patients/").content
