"""A recording made in the browser, from Stop to its card: the keyboard focus lands on the next
useful control, the audio (WebM from MediaRecorder, which carries no duration in its header) plays
with its length, and the spectrogram appears on the card as soon as it is rendered, without a
reload."""

import pytest

from diagnostics.tasks import render_spectrograms
from media_assets.models import Recording
from tests.e2e.conftest import sign_in, wait_until
from tests.factories import PatientFactory

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(120)]

# What the browser does when the clinician presses play: load the audio's metadata; then the
# length the player shows.
PLAYER_DURATION = """async (audio) => {
  audio.preload = "metadata";
  audio.load();
  const deadline = Date.now() + 5000;
  while (!(Number.isFinite(audio.duration) && audio.duration > 0) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return String(audio.duration);
}"""


def test_a_browser_recording_keeps_focus_plays_with_its_length_and_gets_its_spectrogram_live(
    page, server, clinician, site
):
    patient = PatientFactory(site=site)
    sign_in(page, server.url, "clin")
    page.goto(f"{server.url}/patients/{patient.pk}/")
    page.evaluate("window.__noReload = true")

    page.check("input[name=kind][value=cough]")
    page.focus("[data-action=record]")
    page.keyboard.press("Enter")
    page.wait_for_selector("[data-action=stop]:visible")
    wait_until(page, "document.querySelector('[data-elapsed]').textContent >= '0:03'")
    page.keyboard.press("Enter")  # on Stop, which has the focus while recording
    page.wait_for_selector("[data-preview]:visible")
    page.steps("stopped")
    assert page.evaluate("() => document.activeElement.matches('[data-action=upload]')")
    preview = float(page.eval_on_selector("[data-preview]", PLAYER_DURATION))
    assert 2.5 < preview < 6, preview

    page.keyboard.press("Enter")  # upload, from where the focus went
    page.wait_for_selector(".timeline-item audio")
    recording = Recording.objects.get(patient=patient)
    assert recording.content_type == "audio/webm"
    card = f"#recording-{recording.pk}"
    played = float(page.eval_on_selector(f"{card} audio", PLAYER_DURATION))
    assert abs(played - recording.duration_s) < 0.5, (played, recording.duration_s)
    assert page.query_selector(f"{card} .spectrogram") is None

    assert render_spectrograms([recording.pk]) == 1  # as the maintenance worker does
    page.wait_for_selector(f"{card} .spectrogram img", timeout=10_000)
    wait_until(page, f"document.querySelector('{card} .spectrogram img').naturalWidth > 0",
               what="the spectrogram picture loaded")  # fmt: skip
    page.steps("spectrogram live")
    assert page.evaluate("window.__noReload") is True
    assert page.console_errors == []
