"""Celery tasks of the diagnostics app (queue ``inference``): thin wrappers around services."""

from celery import shared_task


@shared_task(name="diagnostics.tasks.run_diagnostic")
def run_diagnostic(diagnostic_id: int) -> None:
    from diagnostics.inference import run_diagnostic as run

    run(diagnostic_id=diagnostic_id)
