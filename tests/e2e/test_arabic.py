"""In Arabic, the clinician's pages speak Arabic throughout: the similar-cases panel, the review
queue, the spectrogram's caption, the recorder's instructions and messages, with Arabic's plural
forms (two seconds is "ثانيتين", not "2 ثوانٍ"), from the server and from JavaScript alike."""

import re

import polib
import pytest

from diagnostics.models import ModelStatus
from media_assets.models import Recording
from recommender import indexing
from tests.e2e.conftest import sign_in
from tests.factories import PatientFactory
from tests.factories_clinical import ModelVersionFactory
from tests.recommender.cases import axis_vector, case, near
from tests.recommender.conftest import fresh_live_index  # noqa: F401  (an autouse fixture)
from tests.test_translations import CATALOGUES

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(120)]


def english_left(text: str, *, data: tuple[str, ...] = ()) -> list[str]:
    """Strings of the catalogues (whole sentences and labels, no placeholders) shown as written
    in English, once the page's ``data`` (names the test made, such as "North Clinic") is left
    out."""
    for value in data:
        text = text.replace(value, "")
    found = []
    for entry in polib.pofile(str(CATALOGUES / "django.po")):
        words = entry.msgid
        if entry.msgid_plural or "%" in words or len(words) < 5 or not re.search("[a-z]", words):
            continue
        if re.search(rf"(?<![\w-]){re.escape(words)}(?![\w-])", text):
            found.append(words)
    return found


def test_the_clinicians_pages_are_arabic_throughout_with_plural_forms(
    page, server, clinician, site
):
    version = ModelVersionFactory(status=ModelStatus.PRODUCTION, labels=["healthy", "anomaly"])
    query = case(patient=PatientFactory(site=site), vector=axis_vector(), version=version)
    case(patient=PatientFactory(site=site), vector=near(0.95, 10), version=version,
         review_label="anomaly")  # fmt: skip
    Recording.objects.filter(pk=query.recording_id).update(spectrogram_key="spectrograms/x.png")
    indexing.rebuild_index(reason="test")
    sign_in(page, server.url, "clin")
    page.select_option("#language-select", "ar")
    page.click(".language-switcher button")
    page.wait_for_selector("html[lang=ar][dir=rtl]")

    page.goto(f"{server.url}/diagnostics/{query.pk}/")
    page.steps("result page")
    panel = page.inner_text(".similar-cases")
    assert "مشابهة" in page.inner_text(".similar-feedback button[value=marked_similar]")
    assert "غير مشابهة" in page.inner_text(".similar-feedback button[value=dismissed]")
    assert "نتائج مراجَعة لمرضى آخرين" in panel
    assert "المخطط الطيفي: خصائص log-mel التي يحللها النموذج" in page.inner_text(".spectrogram")
    assert english_left(page.inner_text("body"), data=(site.name,)) == []

    page.goto(f"{server.url}/review/")
    page.steps("review queue")
    head = page.inner_text(".page-head")
    assert "نتيجة واحدة" in head and "الأكثر فائدة للمراجعة أولًا" in head
    assert "الأولوية" in head and "الأقدم أولًا" in head
    assert english_left(page.inner_text("body"), data=(site.name,)) == []

    page.goto(f"{server.url}/patients/{query.patient_id}/")
    instructions = page.text_content("[data-instructions=cough] .muted")
    assert instructions.strip() == "سجّل ثانيتين على الأقل."
    assert page.text_content("[data-instructions=breath] .muted").strip() == (
        "سجّل 10 ثوانٍ على الأقل."
    )
    page.check("input[name=kind][value=cough]")
    page.click("[data-action=record]")
    page.wait_for_selector("[data-action=stop]:visible")
    page.wait_for_timeout(600)
    page.click("[data-action=stop]")
    message = page.wait_for_selector("[data-message]:visible")
    page.steps("too short")
    assert message.inner_text() == "هذا التسجيل قصير جدًا: سجّل ثانيتين على الأقل."
    assert english_left(page.inner_text("body"), data=(site.name,)) == []
    assert page.console_errors == []
