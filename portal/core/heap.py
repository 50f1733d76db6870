"""A process's long-lived objects kept out of the garbage collector's full passes.

CPython's cyclic garbage collector walks every object it tracks in a full pass (its oldest
generation), and while it walks, every request or task of the process waits. A web process holds
about 200,000 such objects once it has started (Django, DRF and the other libraries, the URL
patterns, the settings); the inference worker about twice that once TensorFlow and a model are
loaded. On the 2-core benchmark machine a full pass took about 110 ms in a web process, and it
came every few hundred requests: a pause in the tail of whatever was in flight
(``bench/collector.py``, docs/benchmarks.md). These objects live as long as the process, so the
walk finds nothing to free in them.

``gc.freeze()`` moves every tracked object to a permanent generation that the collector skips;
reference counting still frees what it can, only cycles among frozen objects are never
collected. So freeze what start-up made (``freeze_long_lived``), and where something large and
cyclic is replaced while the process runs (a model swapped by a promotion), thaw, collect and
freeze again (``refreeze``) so the old one's cycles are freed.
"""

import gc
import logging

logger = logging.getLogger(__name__)


def freeze_long_lived(reason: str) -> int:
    """Collect what is garbage now, then freeze every object left; returns how many are frozen."""
    gc.collect()
    gc.freeze()
    frozen = gc.get_freeze_count()
    logger.info("long-lived objects frozen", extra={"reason": reason, "frozen": frozen})
    return frozen


def freeze_web_process() -> int:
    """At the end of a web process's start-up (``portal/asgi.py``, ``portal/wsgi.py``): the URL
    patterns and the views they import loaded, as the first request would, then frozen."""
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018 - reading it imports the URL conf
    return freeze_long_lived("web process started")


def refreeze(reason: str) -> int:
    """Thaw, collect (freeing the cycles of what the process no longer holds) and freeze again."""
    gc.unfreeze()
    return freeze_long_lived(reason)
