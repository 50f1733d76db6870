"""Celery tasks of the diagnostics app: thin wrappers around services.

``run_diagnostic`` runs on the ``inference`` queue (GPU workers: one process per GPU, prefetch 1,
late acknowledgement, requeued if the worker dies); the sweeper runs on ``maintenance``.
"""

from celery import shared_task

# The services are imported inside the tasks: the web process imports this module to enqueue, and
# must not load TensorFlow for it.


@shared_task(bind=True, name="diagnostics.tasks.run_diagnostic", acks_late=True)
def run_diagnostic(self, diagnostic_id: int) -> None:
    from diagnostics import inference

    inference.run_diagnostic(diagnostic_id=diagnostic_id, task_id=self.request.id or "")


@shared_task(name="diagnostics.tasks.sweep_stuck_diagnostics")
def sweep_stuck_diagnostics() -> dict:
    from diagnostics import sweeper

    return sweeper.sweep().as_dict()


@shared_task(name="diagnostics.tasks.render_spectrogram", bind=True, acks_late=True, max_retries=5)
def render_spectrogram(self, recording_id: int) -> str | None:
    from diagnostics import spectrogram

    try:
        return spectrogram.render(recording_id)
    except spectrogram.AUDIO_REJECTED:
        return None  # its diagnostic says why; there is no picture of undecodable audio
    except spectrogram.STORAGE_ERRORS as exc:
        raise self.retry(exc=exc, countdown=min(600, 10 * 2**self.request.retries)) from exc


@shared_task(name="diagnostics.tasks.render_missing_spectrograms")
def render_missing_spectrograms() -> int:
    from diagnostics import spectrogram

    recordings = spectrogram.missing()
    for recording_id in recordings:
        render_spectrogram.delay(recording_id)
    return len(recordings)
