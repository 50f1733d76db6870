"""A filesystem storage whose writes fail, as a full disk or an unreachable bucket would."""

from django.core.files.storage import FileSystemStorage


class WriteFailingStorage(FileSystemStorage):
    def _save(self, name, content):
        raise OSError(28, "No space left on device")
