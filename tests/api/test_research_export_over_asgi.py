"""Under the ASGI server the project runs in production (uvicorn), the export is streamed chunk by
chunk as it is read, not collected first, and a client that goes away ends it, audited."""

import time

import httpx
import pytest
from django.utils import timezone

from diagnostics.models import Diagnostic, DiagnosticStatus
from media_assets.models import Recording
from portal.core.models import AuditEvent
from portal.core.rest.authentication import StampedAccessToken
from tests.factories import PatientFactory
from tests.factories_clinical import ModelVersionFactory, RecordingFactory
from tests.processes import asgi_server

pytestmark = pytest.mark.slow

ROWS = 3000  # about 380 kB of CSV: more than one chunk of sources.CHUNK_BYTES


def many_diagnostics(site) -> None:
    patient = PatientFactory(site=site, research_consent=True, research_consent_at=timezone.now())
    model = ModelVersionFactory()
    recordings = Recording.objects.bulk_create(
        RecordingFactory.build(patient=patient, sha256=f"{i:064x}", storage_key=f"k/{i}")
        for i in range(ROWS)
    )
    Diagnostic.objects.bulk_create(
        Diagnostic(recording=r, patient=patient, status=DiagnosticStatus.SUCCEEDED,
                   label="healthy", confidence=0.9, model_version=model)
        for r in recordings
    )  # fmt: skip


def export_events() -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action="research.exported").order_by("id"))


def wait_for_events(count: int, timeout: float = 20) -> list[AuditEvent]:
    deadline = time.monotonic() + timeout
    while len(events := export_events()) < count and time.monotonic() < deadline:
        time.sleep(0.2)
    return events


def test_the_export_streams_in_chunks_and_an_abandoned_one_is_audited(
    process_env, tmp_path, site, researcher
):
    many_diagnostics(site)
    server = asgi_server(process_env, tmp_path)
    headers = {"Authorization": f"Bearer {StampedAccessToken.for_user(researcher)}"}
    url = f"{server.url}/api/v1/research/diagnostics/?format=csv"
    try:
        with httpx.stream("GET", url, headers=headers, timeout=60) as response:
            chunks = [len(chunk) for chunk in response.iter_raw()]
            transfer = response.headers.get("transfer-encoding")
        with httpx.stream("GET", url, headers=headers, timeout=60) as abandoned:
            next(abandoned.iter_raw())  # one chunk, then the client goes away
        events = wait_for_events(2)
    finally:
        server.stop()

    assert transfer == "chunked" and len(chunks) > 2
    assert sum(chunks) > 300_000
    assert [e.detail["completed"] for e in events] == [True, False]
    assert events[0].detail["rows"] == ROWS
    assert events[1].detail["rows"] <= ROWS  # read for the stream, maybe not all delivered
    assert "must consume synchronous iterators" not in server.output()
