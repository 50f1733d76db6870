"""Background threads a process keeps for work it hands off (the inference worker's model and
audio loaders, the task sender).

A thread does not survive a fork: a Celery pool process forked from a parent that had made one
must make its own. ``process_executor`` keys each executor by name and by process, so every
process, parent or child, gets its own on first use.
"""

import os
import threading
from concurrent.futures import ThreadPoolExecutor

_executors: dict[str, tuple[int, ThreadPoolExecutor]] = {}
_lock = threading.Lock()


def process_executor(name: str, workers: int = 1) -> ThreadPoolExecutor:
    """This process's executor called ``name``, made on first use. One worker runs the work
    handed to it one piece at a time, in the order given."""
    with _lock:
        made = _executors.get(name)
        if made is None or made[0] != os.getpid():
            made = (os.getpid(), ThreadPoolExecutor(workers, thread_name_prefix=name))
            _executors[name] = made
        return made[1]
