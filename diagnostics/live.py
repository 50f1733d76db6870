"""What clients see of a diagnostic while it is analysed: the status message, and its delivery.

The same message is the body of the polling API and goes, through the Redis channel layer from
whichever process made the change, to one group: the patient's. A patient's page shows every
message of the group; a diagnostic's page, subscribed to its patient's group, keeps those about
its diagnostic. One send per change rather than one per kind of page: a send costs its publisher
about 0.14 ms of Python, and an inference worker under load publishes two changes per clip
(``running``, then the result), which it does beside the model.
"""

import asyncio
import logging
import os
import threading
from collections.abc import Iterable

from channels.layers import get_channel_layer
from django.utils import timezone

from diagnostics import capacity
from diagnostics.models import Diagnostic, DiagnosticStatus, Label

logger = logging.getLogger(__name__)

PUBLISH_TIMEOUT_S = 5  # a Redis that hangs must not hold a worker or a request for long


def patient_group(patient_id: int) -> str:
    return f"patient-{patient_id}"


def queue_position(diagnostic: Diagnostic) -> int | None:
    """1 for the next diagnostic to be analysed; None once it is no longer waiting.

    Counted in the claims' order (``Diagnostic.objects.waiting_ahead_of``): from the object's own
    annotation when it was given one (``annotate_queue_positions``), else by asking for it.
    """
    if diagnostic.status != DiagnosticStatus.QUEUED:
        return None
    annotate_queue_positions([diagnostic])
    return diagnostic.queue_position


def wait(diagnostic: Diagnostic) -> capacity.Wait:
    """Its queue position and expected wait (``diagnostics.capacity``), None once not waiting."""
    position = queue_position(diagnostic)
    return capacity.Wait(position=position, seconds=capacity.expected_wait_s(position))


def annotate_queue_positions(diagnostics: Iterable[Diagnostic]) -> None:
    """Give the waiting ones among ``diagnostics`` their ``queue_position``, in one query, and
    none when none is waiting (those already given one keep it).

    Reads that show diagnostics load them without the annotation and call this after: the
    position's subquery, compiled into every read, cost about 5 ms of CPU a query on the load
    benchmark's machine, nearly all of it for finished diagnostics, which have no position. One
    waiting diagnostic (an upload's, a result page's) is counted, which costs less to build.
    """
    waiting = {
        d.pk: d
        for d in diagnostics
        if d.status == DiagnosticStatus.QUEUED and not hasattr(d, "queue_position")
    }
    if not waiting:
        return
    if len(waiting) == 1:
        [diagnostic] = waiting.values()
        diagnostic.queue_position = Diagnostic.objects.queue_position_of(diagnostic)
        return
    positions = dict(
        Diagnostic.objects.with_queue_position()
        .filter(pk__in=waiting)
        .values_list("pk", "queue_position")
    )
    for pk, diagnostic in waiting.items():
        diagnostic.queue_position = positions.get(pk)


def status_message(diagnostic: Diagnostic) -> dict:
    """The WebSocket message of docs/api.md: ``{"type": "diagnostic", "id", "status", …}``."""
    version = diagnostic.model_version
    waiting = wait(diagnostic)
    return {
        "type": "diagnostic",
        "id": diagnostic.pk,
        "patient": diagnostic.patient_id,
        "status": diagnostic.status,
        "urgent": diagnostic.urgent,
        "label": diagnostic.label or None,
        "label_display": diagnostic.get_label_display() if diagnostic.label else None,
        "label_shown": diagnostic.label_shown or None,
        "label_shown_display": str(Label(diagnostic.label_shown).label)
        if diagnostic.label
        else None,
        "quality_gate": diagnostic.quality_gate or None,
        "quality_gate_display": diagnostic.get_quality_gate_display() or None,
        "confidence": diagnostic.confidence,
        "model_version": str(version) if version else None,
        "synthetic_model": bool(version and version.is_synthetic),
        "research_use_only": bool(version and version.research_use_only),
        "queue_position": waiting.position,
        "expected_wait_s": waiting.seconds,
        "error": diagnostic.error or None,
        "updated_at": _updated_at(diagnostic).isoformat(),
    }


def _updated_at(diagnostic: Diagnostic):
    return diagnostic.finished_at or diagnostic.started_at or diagnostic.queued_at or timezone.now()


def spectrogram_message(recording) -> dict:
    """``{"type": "spectrogram", "recording", "patient"}``: the recording's picture is ready."""
    return {"type": "spectrogram", "recording": recording.pk, "patient": recording.patient_id}


def publish_spectrogram(recording) -> None:
    """Tell the patient's pages that a recording's spectrogram exists, so open cards show it."""
    event = {"type": "recording.update", "message": spectrogram_message(recording)}
    _publish([(patient_group(recording.patient_id), event)])


def publish(diagnostic: Diagnostic) -> None:
    """Send the current state to everyone watching; a Redis hiccup must not fail the caller."""
    publish_many([diagnostic])


def publish_many(diagnostics: Iterable[Diagnostic], *, wait: bool = True) -> None:
    """``publish`` for a batch (a worker's claimed or finished diagnostics) in one event loop.

    With ``wait=False`` (the inference worker) the caller goes on at once: the sends run on the
    publisher loop after every earlier one of this process, so a diagnostic's "running" never
    overtakes its "succeeded", while the model works on the next batch.
    """
    diagnostics = list(diagnostics)
    annotate_queue_positions(diagnostics)
    sends = [
        (
            patient_group(diagnostic.patient_id),
            {"type": "diagnostic.update", "message": status_message(diagnostic)},
        )
        for diagnostic in diagnostics
    ]
    _publish(sends, wait=wait)


def _publish(sends: list[tuple[str, dict]], *, wait: bool = True) -> None:
    if not sends:
        return
    global _last_publish
    loop = _publisher()
    with _publisher_lock:
        previous = _last_publish if _last_publish and _last_publish[0] == os.getpid() else None
        future = asyncio.run_coroutine_threadsafe(
            _send_after(previous and previous[1], get_channel_layer(), sends), loop
        )
        _last_publish = (os.getpid(), future)
    if not wait:
        future.add_done_callback(_log_failure)
        return
    try:
        future.result(timeout=PUBLISH_TIMEOUT_S)
    except Exception as exc:  # the channel layer raises whatever its Redis client raises
        future.cancel()
        logger.warning("live update not published", extra={"error": type(exc).__name__})


def _log_failure(future) -> None:
    if not future.cancelled() and future.exception() is not None:
        logger.warning(
            "live update not published", extra={"error": type(future.exception()).__name__}
        )


async def _send_after(previous, layer, sends: list[tuple[str, dict]]) -> None:
    if previous is not None:
        await asyncio.wait([asyncio.wrap_future(previous)])  # its failure is its own to report
    await asyncio.wait_for(_send(layer, sends), PUBLISH_TIMEOUT_S)


async def _send(layer, sends: list[tuple[str, dict]]) -> None:
    # Side by side: each is a round trip to Redis, and a batch holds one per diagnostic. Messages
    # to one group within a call belong to different diagnostics, so their order does not matter.
    await asyncio.gather(*(layer.group_send(group, event) for group, event in sends))


_publisher_lock = threading.Lock()
_publisher_loop: tuple[int, asyncio.AbstractEventLoop] | None = None
_last_publish: tuple[int, object] | None = None  # (pid, the latest send's future)


def _publisher() -> asyncio.AbstractEventLoop:
    """This process's event loop for publishing from sync code, running in a thread of its own.

    ``async_to_sync`` from a thread without a loop makes a new loop per call, and the channel layer
    keeps its Redis connections per loop: every update would open and close a connection. One
    long-lived loop keeps them. A forked child (a Celery pool process) makes its own.
    """
    global _publisher_loop
    with _publisher_lock:
        if _publisher_loop is None or _publisher_loop[0] != os.getpid():
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="live-publisher", daemon=True).start()
            _publisher_loop = (os.getpid(), loop)
        return _publisher_loop[1]
