"""Celery tasks of the FHIR app: thin wrappers around ``delivery`` and ``records``."""

from celery import shared_task

from portal.fhir import delivery, records


@shared_task(name="portal.fhir.tasks.push")
def push(diagnostic_ids: list[int], trigger: str) -> None:
    """Results or a review committed: a delivery each (linked patients only), sent at once."""
    for scheduled in delivery.schedule(diagnostic_ids=diagnostic_ids, trigger=trigger):
        deliver.delay(scheduled.pk)


@shared_task(name="portal.fhir.tasks.deliver", bind=True, max_retries=None)
def deliver(self, delivery_id: int) -> None:
    """One attempt; a failed one comes back after its back-off (the delivery counts attempts
    and gives up after ``FHIR_MAX_ATTEMPTS``, so Celery's own count is not needed)."""
    wait = delivery.attempt(delivery_id)
    if wait is not None:
        raise self.retry(countdown=wait)


@shared_task(name="portal.fhir.tasks.catch_up")
def catch_up() -> None:
    """Periodic: results and reviews whose push message was lost, delivered now."""
    for missed in delivery.catch_up():
        deliver.delay(missed.pk)


@shared_task(name="portal.fhir.tasks.reconcile_patients")
def reconcile_patients() -> None:
    """Nightly: names and birth dates of linked patients as the hospital's record has them."""
    records.reconcile_linked_patients()
