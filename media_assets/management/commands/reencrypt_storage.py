"""``reencrypt_storage``: move every stored object to the key ring's first key.

Run after putting a new key first in ``STORAGE_ENCRYPTION_KEYS``; once it reports no failure, the
old keys can be dropped from the ring. Objects already under the first key are skipped, so the
command is idempotent, and a run that was stopped is resumed by running it again. Objects written
before encryption at rest (plain files) are encrypted on the way. Run one at a time.
"""

import time

from django.core.files.storage import storages
from django.core.management.base import BaseCommand, CommandError

from media_assets.encrypted_storage import (
    CHANGED,
    CURRENT,
    ENCRYPTED,
    REENCRYPTED,
    EncryptedFileSystemStorage,
    walk,
)
from media_assets.encryption import StoredObjectUnreadable
from media_assets.storage import is_s3

PROGRESS_EVERY_S = 5.0


class Command(BaseCommand):
    help = "Re-encrypt every stored object under the newest key of STORAGE_ENCRYPTION_KEYS."

    def add_arguments(self, parser):
        parser.add_argument(
            "--prefix", default="", help="Only objects under this prefix (e.g. recordings/)."
        )

    def handle(self, *args, prefix, **options):
        if is_s3():
            self.stdout.write("Objects on S3 are encrypted by S3 itself (SSE-KMS): nothing to do.")
            return
        storage = storages["default"]
        if not isinstance(storage, EncryptedFileSystemStorage):
            raise CommandError("The configured storage does not encrypt at rest.")
        primary = storage.key_ring.primary_id
        counts = dict.fromkeys((REENCRYPTED, ENCRYPTED, CURRENT, CHANGED, "unreadable"), 0)
        last_report = time.monotonic()
        for done, name in enumerate(walk(storage, prefix), start=1):
            try:
                counts[storage.reencrypt(name)] += 1
            except StoredObjectUnreadable as exc:
                counts["unreadable"] += 1
                self.stderr.write(f"unreadable: {name} ({exc.detail})")
            except FileNotFoundError:
                counts[CHANGED] += 1  # deleted meanwhile
            if time.monotonic() - last_report >= PROGRESS_EVERY_S:
                self.stdout.write(f"… {done} objects looked at")
                last_report = time.monotonic()
        total = sum(counts.values())
        self.stdout.write(
            f"{total} objects: {counts[REENCRYPTED]} re-encrypted, {counts[ENCRYPTED]} encrypted "
            f"(were plain files), {counts[CURRENT]} already under {primary}, {counts[CHANGED]} "
            f"changed meanwhile, {counts['unreadable']} unreadable."
        )
        if counts["unreadable"]:
            raise CommandError(
                "Some objects could not be read with any key of the ring: keep the old keys "
                "until they are dealt with."
            )
        if counts[CHANGED]:
            self.stdout.write("Run the command again for the objects that changed meanwhile.")
