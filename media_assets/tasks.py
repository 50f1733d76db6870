"""Periodic storage jobs (queue ``maintenance``), scheduled by beat in settings."""

from celery import shared_task

from media_assets import maintenance


@shared_task
def cleanup_pending_uploads() -> int:
    return maintenance.cleanup_pending_uploads()


@shared_task
def reconcile_storage(repair: bool = False) -> dict:
    return maintenance.reconcile_storage(repair=repair).as_dict()
