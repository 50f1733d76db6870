"""Run as a process: upload a recording through the real service, on a storage that kills the
process (SIGKILL) right after the object is written, before anything more is committed.

Arguments: the audio file, the patient's id, the uploading user's id.
"""

import os
import sys

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.core.files.uploadedfile import SimpleUploadedFile  # noqa: E402

from diagnostics.services import submit_recording  # noqa: E402
from portal.core.models import Patient  # noqa: E402

settings.STORAGES = {
    **settings.STORAGES,
    "default": {
        "BACKEND": "tests.faults.storage_faults.KillAfterWriteStorage",
        "OPTIONS": {"location": os.environ["MEDIA_ROOT"]},
    },
}

path, patient_id, user_id = sys.argv[1:4]
with open(path, "rb") as handle:
    upload = SimpleUploadedFile("cough.wav", handle.read(), content_type="audio/wav")
submit_recording(
    patient=Patient.objects.get(pk=patient_id), file=upload, kind="cough", symptoms={},
    actor=get_user_model().objects.get(pk=user_id),
)  # fmt: skip
sys.exit("the storage should have killed this process")
