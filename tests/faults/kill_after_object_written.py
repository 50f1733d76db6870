"""Run as a process: check and write an upload's object, then die before any row is written.

This is what a crash between the two steps leaves behind; the reconcile job must clean it up.
"""

import os
import signal
import sys

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
django.setup()

from media_assets import services  # noqa: E402
from portal.core.models import Site  # noqa: E402

with open(sys.argv[1], "rb") as upload:
    inspected = services.inspect_audio(file=upload)
    key = services.recording_key(site=Site(code="north"), extension=inspected.extension)
    services.put_object(key=key, file=upload)
print(key, flush=True)
os.kill(os.getpid(), signal.SIGKILL)
