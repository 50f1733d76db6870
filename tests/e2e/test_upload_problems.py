"""Uploads that go wrong: a file that is not audio is refused next to the recorder in plain words,
and a recording made while the server is down stays in the browser until it can be delivered."""

from urllib.parse import urlparse

import pytest

from media_assets.models import Recording
from tests.e2e.conftest import sign_in
from tests.factories import PatientFactory
from tests.media_assets.uploading import cough_wav

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(120)]

PENDING_IN_BROWSER = """async () => {
  const db = await new Promise((resolve, reject) => {
    const request = indexedDB.open("portal-uploads", 1);
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
  const count = await new Promise((resolve) => {
    const request = db.transaction("pending").objectStore("pending").count();
    request.onsuccess = () => resolve(request.result);
  });
  db.close();
  return count;
}"""


NEXT_TRY_IN_S = PENDING_IN_BROWSER.replace(
    '.objectStore("pending").count()', '.objectStore("pending").getAll()'
).replace("return count;", "return (count[0].nextAttemptAt - Date.now()) / 1000;")


def forget_measured_throughput() -> None:
    from diagnostics import capacity
    from tests.diagnostics.inference_steps import broker_client

    client = broker_client()
    try:
        for key in client.scan_iter(match=capacity.KEY.format(second="*")):
            client.delete(key)
    finally:
        client.close()


def choose_file(page, name, mime, content):
    page.set_input_files("[data-file]", files=[{"name": name, "mimeType": mime, "buffer": content}])
    page.wait_for_selector("[data-action=upload]:enabled")


def test_a_file_that_is_not_audio_is_refused_next_to_the_recorder(page, server, clinician, site):
    patient = PatientFactory(site=site)
    sign_in(page, server.url, "clin")
    page.goto(f"{server.url}/patients/{patient.pk}/")

    choose_file(page, "notes.wav", "audio/wav", b"Patient notes, not a recording.\n" * 20)
    page.steps("file chosen")
    page.click("[data-action=upload]")
    message = page.wait_for_selector("[data-message]:visible")
    page.steps("refused")

    assert "not a recording in a supported audio format" in message.inner_text()
    assert page.is_hidden("[data-pending-here]")
    assert page.evaluate(PENDING_IN_BROWSER) == 0  # a refusal is final: nothing kept to retry
    assert not Recording.objects.exists()


def test_a_recording_made_while_the_server_is_down_is_delivered_when_it_returns(
    page, process_env, tmp_path, clinician, site
):
    from tests.processes import asgi_server

    patient = PatientFactory(site=site)
    server = asgi_server(process_env, tmp_path)
    port = urlparse(server.url).port
    try:
        sign_in(page, server.url, "clin")
        page.goto(f"{server.url}/patients/{patient.pk}/")
        page.evaluate("window.__noReload = true")
        server.stop()

        choose_file(page, "cough.wav", "audio/wav", cough_wav(seed=5))
        page.click("[data-action=upload]")
        page.wait_for_selector("[data-message].is-info")
        page.wait_for_selector("[data-pending-uploads]:visible")
        page.steps("kept while offline")
        assert "1 recording waiting to upload" in page.inner_text("[data-pending-uploads]")
        assert page.evaluate(PENDING_IN_BROWSER) == 1
        assert not Recording.objects.exists()

        server = asgi_server(process_env, tmp_path, port=port)
        page.wait_for_selector(".timeline-item", timeout=45_000)
        page.wait_for_selector("[data-pending-uploads]", state="hidden")
        page.steps("delivered")
    finally:
        server.stop()

    assert page.evaluate("window.__noReload") is True
    assert page.evaluate(PENDING_IN_BROWSER) == 0
    assert Recording.objects.filter(patient=patient).count() == 1


# A long outage has grown the retry delay: the kept recordings' next attempt is a minute away.
POSTPONE_PENDING = """async () => {
  const db = await new Promise((resolve, reject) => {
    const request = indexedDB.open("portal-uploads", 1);
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
  const store = db.transaction("pending", "readwrite").objectStore("pending");
  const items = await new Promise((resolve) => {
    const request = store.getAll();
    request.onsuccess = () => resolve(request.result);
  });
  for (const item of items) store.put({...item, attempts: 6, nextAttemptAt: Date.now() + 60000});
  await new Promise((resolve) => { store.transaction.oncomplete = resolve; });
  db.close();
  return items.length;
}"""


def test_back_online_the_kept_recordings_go_at_once_and_the_notice_clears(
    page, server, clinician, site
):
    patient = PatientFactory(site=site)
    sign_in(page, server.url, "clin")
    page.goto(f"{server.url}/patients/{patient.pk}/")
    page.context.set_offline(True)
    for seed in (5, 6):
        choose_file(page, f"cough-{seed}.wav", "audio/wav", cough_wav(seed=seed))
        page.click("[data-action=upload]")
        page.wait_for_selector("[data-message].is-info")
    assert "The connection dropped" in page.inner_text("[data-message]")
    assert page.evaluate(POSTPONE_PENDING) == 2
    page.steps("offline, two kept")

    page.context.set_offline(False)
    page.wait_for_selector("[data-pending-uploads]", state="hidden", timeout=6_000)
    page.wait_for_selector("[data-message].is-ok", timeout=3_000)
    page.steps("delivered")

    assert "The connection dropped" not in page.inner_text("[data-recorder]")
    assert page.evaluate(PENDING_IN_BROWSER) == 0
    assert Recording.objects.filter(patient=patient).count() == 2


def test_an_upload_refused_while_the_queue_is_full_is_kept_and_sent_after_retry_after(
    page, process_env, tmp_path, clinician, site
):
    from diagnostics.models import Diagnostic, DiagnosticStatus
    from tests.factories_clinical import DiagnosticFactory
    from tests.processes import asgi_server

    patient = PatientFactory(site=site)
    blocker = DiagnosticFactory(recording__patient=PatientFactory(site=site))
    forget_measured_throughput()  # an earlier test's worker may have measured one
    # One waiting diagnostic fills the queue; at the assumed 0.01 clips/s, Retry-After is 10 s.
    limits = {"INFERENCE_QUEUE_HARD_LIMIT": "1", "INFERENCE_FALLBACK_CLIPS_PER_S": "0.01"}
    server = asgi_server(process_env | limits, tmp_path)
    try:
        sign_in(page, server.url, "clin")
        page.goto(f"{server.url}/patients/{patient.pk}/")
        page.evaluate("window.__noReload = true")

        choose_file(page, "cough.wav", "audio/wav", cough_wav(seed=6))
        page.check("input[name=urgent]")
        page.click("[data-action=upload]")
        message = page.wait_for_selector("[data-message].is-info")
        page.steps("refused, kept")
        assert "The server is busy" in message.inner_text()
        assert page.evaluate(PENDING_IN_BROWSER) == 1
        assert not Recording.objects.filter(patient=patient).exists()
        # The next try waits for Retry-After (plus up to a fifth), not the 1 to 2 s of backoff.
        wait_s = page.evaluate(NEXT_TRY_IN_S)
        assert 9 <= wait_s <= 12.5

        # The queue drains: the browser's next try is accepted.
        Diagnostic.objects.filter(pk=blocker.pk).update(status=DiagnosticStatus.FAILED)
        page.wait_for_selector(".timeline-item", timeout=45_000)
        page.wait_for_selector("[data-pending-uploads]", state="hidden")
        page.steps("delivered")
    finally:
        server.stop()

    assert Diagnostic.objects.get(recording__patient=patient).urgent
