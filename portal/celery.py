"""The Celery application, with request ids carried from the web request into task log lines."""

import logging
import os

from celery import Celery, bootsteps, signals
from celery.contrib.django.task import DjangoTask
from celery.worker.consumer import Consumer
from redis import RedisError

from portal.core import shutdown
from portal.core.database import DATABASE_ERRORS
from portal.core.observability import new_request_id, request_id_var

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")


class PortalTask(DjangoTask):
    """Every task of the portal: one that fails on a lost database connection (a restart of
    PostgreSQL) is tried again with a back-off (1 s, 2 s, 4 s … up to a minute, with jitter),
    instead of failing for good. Tasks are idempotent, so a repeat is harmless. Django's task
    class underneath, as Celery would pick by itself (``delay_on_commit``)."""

    autoretry_for = DATABASE_ERRORS
    retry_backoff = True
    retry_backoff_max = 60
    retry_jitter = True
    max_retries = 8


app = Celery("portal", task_cls=PortalTask)
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

logger = logging.getLogger("portal.core.tasks")


class RestoreUnackedTasks(bootsteps.StartStopStep):
    """Give a dead worker's unacknowledged tasks back to the queue soon after their visibility
    timeout.

    With late acknowledgement a task stays in the Redis transport's ``unacked`` set until a worker
    acknowledges it. kombu restores entries older than the visibility timeout when a worker starts,
    and after that only on every tenth tick of a 10-second timer: a worker that dies whole would
    wait up to a visibility timeout plus 100 s for its survivors to notice. This step looks every
    half visibility timeout (at most 10 s), so the wait is about the visibility timeout.
    """

    requires = {"celery.worker.consumer.tasks:Tasks"}

    def __init__(self, parent, **kwargs):
        super().__init__(parent, **kwargs)
        self.timer_entry = None

    def start(self, consumer):
        channel = consumer.task_consumer.channel
        if not hasattr(getattr(channel, "qos", None), "restore_visible"):
            return  # not the Redis transport: nothing to restore
        interval = min(10.0, max(1.0, channel.visibility_timeout / 2))
        self.timer_entry = consumer.timer.call_repeatedly(interval, self.restore, (consumer,))

    def stop(self, consumer):
        if self.timer_entry is not None:
            self.timer_entry.cancel()
            self.timer_entry = None

    @staticmethod
    def restore(consumer):
        channel = consumer.task_consumer.channel
        try:
            # interval=1: restore on every call, not on kombu's every tenth.
            channel.qos.restore_visible(num=channel.unacked_restore_limit, interval=1)
        except (RedisError, OSError) as exc:  # the broker is away; the consumer reconnects
            logger.warning("unacked tasks not restored", extra={"error": type(exc).__name__})


app.steps["consumer"].add(RestoreUnackedTasks)


class PromptReconnectConsumer(Consumer):
    """A worker's broker consumer that tries again every second while the broker is away.

    Celery's consumer reconnects with kombu's default back-off (2 s, then 4 s, 6 s … up to 30 s),
    so after an outage of 20 s a worker sat idle for up to 10 s more. This one uses the
    ``interval_*`` of ``broker_transport_options`` (which kombu already applies to the producers'
    connections), so it is back within a second or two of the broker. Named by
    ``worker_consumer`` in the settings.
    """

    def ensure_connected(self, conn):
        intervals = {
            key: value
            for key, value in conn.transport_options.items()
            if key in ("interval_start", "interval_step", "interval_max")
        }
        ensure = conn.ensure_connection

        def ensure_promptly(*args, **kwargs):
            return ensure(*args, **{**intervals, **kwargs})

        conn.ensure_connection = ensure_promptly
        return super().ensure_connected(conn)


@signals.worker_init.connect
def _yield_cores_to_pages(**_):
    """Lower this worker's CPU priority to ``WORKER_NICENESS`` before its pool starts (the pool's
    processes inherit it): on shared cores a busy inference or spectrogram job slowed every page
    (``bench/load.py`` at 100 users, docs/benchmarks.md: the slowest page's p95 253-289 ms
    before, 191 ms reniced by hand)."""
    from django.conf import settings

    wanted, current = settings.WORKER_NICENESS, os.nice(0)
    if wanted > current:
        os.nice(wanted - current)
        # Not the tasks' logger: this line belongs to no task and no request.
        logging.getLogger("portal.celery").info(
            "worker niceness lowered", extra={"niceness": wanted}
        )


@signals.worker_process_init.connect
def _freeze_long_lived(**_):
    """What the worker loaded before its first task stays out of the collector's full passes
    (``portal.core.heap``); the inference worker freezes its model again once loaded."""
    from portal.core.heap import freeze_long_lived

    freeze_long_lived("worker process started")


@signals.worker_process_init.connect
def _serve_worker_metrics(**_):
    """Workers are not behind /metrics: a pool process serves its own when a port is given."""
    port = os.environ.get("CELERY_METRICS_PORT")
    if not port:
        return
    from prometheus_client import start_http_server

    try:
        start_http_server(int(port), addr=os.environ.get("CELERY_METRICS_ADDR", "127.0.0.1"))
    except OSError as exc:  # a restarted pool child may find its predecessor's port still bound
        logger.warning("worker metrics not served", extra={"port": port, "error": str(exc)})


@signals.worker_shutting_down.connect
def _announce_warm_shutdown(**_):
    """Tell the running tasks (``portal.core.shutdown``): the inference task finishes the batch
    in hand and claims no more, instead of draining the queue until its time limit."""
    shutdown.begin()


@signals.worker_process_shutdown.connect
def _flush_sends(**_):
    """Sends not waited for (``portal.core.dispatch``) go out before a pool process exits."""
    from portal.core import dispatch

    try:
        dispatch.flush()
    except Exception:
        logging.getLogger(__name__).warning("task sends not flushed at exit")


@signals.before_task_publish.connect
def _attach_request_id(headers=None, **_):
    """Carry the id of the request (or task) that enqueues a task into the task's headers."""
    if headers is not None and request_id_var.get():
        headers.setdefault("request_id", request_id_var.get())


@signals.task_prerun.connect
def _bind_request_id(task=None, task_id=None, **_):
    request_id = getattr(task.request, "request_id", None) or new_request_id()
    task.request.portal_request_id_token = request_id_var.set(request_id)
    logger.info("task started", extra={"task": task.name, "task_id": task_id})


@signals.task_postrun.connect
def _unbind_request_id(task=None, task_id=None, state=None, **_):
    logger.info("task finished", extra={"task": task.name, "task_id": task_id, "state": state})
    token = getattr(task.request, "portal_request_id_token", None)
    if token is not None:
        request_id_var.reset(token)
