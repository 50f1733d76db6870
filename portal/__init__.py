"""The project package (settings, urls, asgi, celery) and the top layer: pages, API routing and the
research export. The clinic core it builds on is ``portal.core``."""

import os

# One BLAS thread a process unless the environment names another number; set here, before anything
# imports NumPy, which reads it once as it loads OpenBLAS. After every call large enough to share
# out (a similar-cases search over 10,000 recent embeddings is one), OpenBLAS's idle threads spin
# for about 0.1 s of CPU: a web process or worker serves many requests or tasks at once on cores
# it shares, and gains nothing from splitting one product across them.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from portal.celery import app as celery_app

__all__ = ["celery_app"]
