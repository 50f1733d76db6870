"""The patient page through a restart of its web process: the socket the draining process closes
with 1012 ("service restart") is opened again to the process that takes over, and a result
recorded while the page had no socket is shown without a reload (``static/js/live-results.js``)."""

import signal

import pytest
from django.utils import timezone

from diagnostics.models import Diagnostic, DiagnosticStatus
from tests.e2e.conftest import sign_in, wait_until
from tests.factories import PatientFactory
from tests.factories_clinical import DiagnosticFactory, ModelVersionFactory, RecordingFactory
from tests.processes import asgi_server, free_port

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(120)]

# Counts the page's sockets and how each closed, from before the page's own scripts run.
RECORD_SOCKETS = """
(() => {
  const Native = window.WebSocket;
  window.__sockets = { opened: 0, closes: [] };
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener("open", () => { window.__sockets.opened += 1; });
      this.addEventListener("close", (event) => { window.__sockets.closes.push(event.code); });
    }
  };
})();
"""
LIVE = "document.querySelector('[data-live-state]').textContent.includes('Live')"


def test_the_patient_page_reconnects_after_a_restart_and_shows_the_result_it_missed(
    page, process_env, tmp_path, clinician, site
):
    patient = PatientFactory(site=site)
    waiting = DiagnosticFactory(recording=RecordingFactory(patient=patient))
    card = f".result[data-diagnostic-id='{waiting.pk}']"
    port = free_port()
    servers = [asgi_server(process_env, tmp_path / "first", port=port)]
    try:
        page.add_init_script(RECORD_SOCKETS)
        sign_in(page, servers[0].url, clinician.username)
        page.goto(f"{servers[0].url}/patients/{patient.pk}/")
        wait_until(page, LIVE, what="the page's socket is open")
        assert page.get_attribute(card, "data-status") == "queued"
        page.steps("live")

        servers[0].proc.send_signal(signal.SIGTERM)  # as in a rolling restart
        servers[0].proc.wait(timeout=30)
        wait_until(page, "window.__sockets.closes.length > 0", what="the socket closed")
        # The result is recorded while the page has no socket: no message can reach it.
        now = timezone.now()
        Diagnostic.objects.filter(pk=waiting.pk).update(
            status=DiagnosticStatus.SUCCEEDED, label="healthy", confidence=0.91,
            scores={"healthy": 0.91}, model_version=ModelVersionFactory(), started_at=now,
            finished_at=now, attempts=1,
        )  # fmt: skip
        servers.append(asgi_server(process_env, tmp_path / "second", port=port))
        wait_until(page, f"document.querySelector(\"{card}\").dataset.status === 'succeeded'",
                   timeout=30, what="the missed result shown")  # fmt: skip
        wait_until(page, LIVE, timeout=30, what="the socket open again")
        page.steps("reconnected")
        sockets = page.evaluate("window.__sockets")
    finally:
        for server in servers:
            server.stop()

    assert sockets["closes"][0] == 1012
    assert sockets["opened"] >= 2
    assert page.console_errors == []
