"""A Celery worker's warm shutdown, as the tasks in its pool processes see it.

On SIGTERM a worker's main process stops taking messages and waits for the tasks it is running;
its pool processes are not told (the signal reaches the main process alone, as Kubernetes and
container runtimes send it). A task that would otherwise go on with more work of its own accord
(the inference worker goes from batch to batch while first attempts wait) asks ``requested()``
between two pieces and stops there: the work it leaves keeps its broker message, which another
worker takes at once.

The flag is one byte of memory shared with every pool process forked after this module was
imported (``portal/celery.py`` imports it in the main process before the pool starts); setting it
takes no lock, so it is safe inside the signal handler that announces the shutdown.
"""

import mmap

_flag = mmap.mmap(-1, 1)  # anonymous and shared: what the main process writes, children read


def begin() -> None:
    """This worker is shutting down (called in its main process by ``worker_shutting_down``)."""
    _flag[0] = 1


def requested() -> bool:
    """Whether this process's worker is shutting down."""
    return _flag[0] == 1
