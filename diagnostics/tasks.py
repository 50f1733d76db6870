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
