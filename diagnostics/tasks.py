"""Celery tasks of the diagnostics app: thin wrappers around services.

``run_diagnostic`` runs on the ``inference`` queue (GPU workers: one process per GPU, prefetch 1,
late acknowledgement, requeued if the worker dies); the sweeper runs on ``maintenance``.
"""

from celery import shared_task
from django.conf import settings

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


@shared_task(name="diagnostics.tasks.render_spectrograms", bind=True, acks_late=True, max_retries=5)
def render_spectrograms(self, recording_ids: list[int]) -> int:
    """Pictures of a batch's recordings (sent by the inference worker after its results): how
    many were rendered. Rendering is idempotent, so a retry after a storage error repeats none."""
    from diagnostics import spectrogram
    from portal.core.storage import STORAGE_ERRORS

    rendered = 0
    for recording_id in recording_ids:
        try:
            rendered += spectrogram.render(recording_id) is not None
        except spectrogram.AUDIO_REJECTED:
            continue  # its diagnostic says why; there is no picture of undecodable audio
        except STORAGE_ERRORS as exc:
            raise self.retry(exc=exc, countdown=min(600, 10 * 2**self.request.retries)) from exc
    return rendered


@shared_task(name="diagnostics.tasks.render_missing_spectrograms")
def render_missing_spectrograms(chunk: int = 50) -> int:
    """Recent recordings still without a picture (a lost message, a failed analysis)."""
    from diagnostics import spectrogram

    recordings = spectrogram.missing()
    for start in range(0, len(recordings), chunk):
        render_spectrograms.delay(recordings[start : start + chunk])
    return len(recordings)


@shared_task(name="diagnostics.tasks.check_model_trials")
def check_model_trials() -> list[dict]:
    """Compare running canaries and shadows with production; roll back those past a bound."""
    from diagnostics import canary

    return canary.check_trials()


@shared_task(name="diagnostics.tasks.refresh_model_watch")
def refresh_model_watch() -> dict:
    """The daily agreement and input rows of recent days, and the production model's drift."""
    from diagnostics import watch

    return watch.refresh()


@shared_task(name="diagnostics.tasks.refresh_agreement")
def refresh_agreement(diagnostic_id: int) -> None:
    """The agreement row a review changed (sent once the review commits)."""
    from diagnostics import agreement

    agreement.refresh_for_review(diagnostic_id)


# Training runs for hours: acknowledged on receipt (a late ack would be redelivered after the
# broker's visibility timeout while the run goes on), and claimed from "queued" so a second
# delivery does nothing. A worker that dies leaves its run "running": start it again (reproduce).
@shared_task(
    name="diagnostics.tasks.run_training", acks_late=False, bind=True,
    time_limit=settings.TRAINING_TIME_LIMIT_S, soft_time_limit=settings.TRAINING_TIME_LIMIT_S - 60,
)  # fmt: skip
def run_training(self, run_id: int) -> str | None:
    from diagnostics import training_worker

    run = training_worker.execute_training_run(run_id=run_id, task_id=self.request.id or "")
    return run.status if run is not None else None


@shared_task(
    name="diagnostics.tasks.compare_with_production", acks_late=False,
    time_limit=settings.TRAINING_TIME_LIMIT_S,
)  # fmt: skip
def compare_with_production(version_id: int) -> bool:
    """The promotion gate's comparison again (production has changed since the run)."""
    from diagnostics import training_worker
    from diagnostics.models import ModelVersion

    version = ModelVersion.objects.get(pk=version_id)
    return training_worker.compare_with_production(version=version)["decision"]["passed"]
