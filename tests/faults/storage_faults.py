"""Storage faults for the fault tests: a stored file turned into a FIFO (a read that would hang),
an object overwritten behind the database's back, a process killed between writing an object and
committing its row; and the summary line each fault test prints for CI's log."""

import contextlib
import os
import signal
import sys
import time
from pathlib import Path

from django.core.files.storage import FileSystemStorage


def replace_with_fifo(path: Path) -> None:
    """Put a FIFO where a stored file was: opening it for reading blocks until a writer comes,
    and reading it blocks until the writer writes, as a hung network mount would."""
    path.unlink()
    os.mkfifo(path)


def release_fifo(path: Path) -> None:
    """Let any reader blocked on the FIFO go (a writer opens it and closes it again: EOF)."""
    with contextlib.suppress(OSError):
        os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))


def overwrite(path: Path, content: bytes) -> None:
    """Change a stored object's bytes in place, as a faulty disk or a stray process would."""
    path.write_bytes(content)


class KillAfterWriteStorage(FileSystemStorage):
    """Local storage whose process dies (SIGKILL) once an object under ``recordings/`` is written:
    the moment between the object and the commit of its row."""

    def _save(self, name, content):
        saved = super()._save(name, content)
        if name.startswith("recordings/"):
            print(saved, flush=True)
            os.kill(os.getpid(), signal.SIGKILL)
        return saved


def summary(request, test: str, **counts) -> None:
    """One line per fault test in CI's log, passed or failed. Pytest captures file descriptor 2
    itself (so ``sys.__stderr__`` is captured too); its capture is suspended for the line."""
    fields = " ".join(f"{name}={value}" for name, value in counts.items())
    capture = request.config.pluginmanager.getplugin("capturemanager")
    with capture.global_and_fixture_disabled():
        print(f"\n[faults] {test}: {fields}", file=sys.stderr, flush=True)


def has_reader(path: Path) -> bool:
    """Whether some process has the FIFO open for reading, or is blocked opening it (a thread
    stuck on the hung file). Probing lets such a reader go."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))
    except OSError:  # ENXIO: nobody reads it
        return False
    return True


class _Trickle:
    """A file that hands out a few kilobytes at a time, slowly: an object store that keeps the
    connection open but has all but stopped sending."""

    def __init__(self, file, chunk: int = 4096, pause_s: float = 0.05) -> None:
        self.file, self.chunk, self.pause_s = file, chunk, pause_s

    def read(self, size: int = -1) -> bytes:
        time.sleep(self.pause_s)
        return self.file.read(self.chunk if size < 0 else min(size, self.chunk))

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.file.close()


class TrickleStorage(FileSystemStorage):
    """Local storage whose reads crawl (``_Trickle``)."""

    def open(self, name, mode="rb"):
        return _Trickle(super().open(name, mode))
