"""Encryption at rest: what sealing and opening a stored recording costs, in this process.

Usage (no services needed):

    .venv/bin/python bench/encryption.py [--files 300]

On 5-second 16 kHz mono WAV clips (156 KiB, as ``bench/ingest.py`` uploads), the same operations
through Django's plain ``FileSystemStorage`` and the portal's ``EncryptedFileSystemStorage``, each
in a temporary folder, interleaved file by file so that a machine whose speed drifts slows both
alike: saving (what an upload's ``put_object`` does), reading the whole file back, reading and
decoding it to the analysis signal (what inference and the spectrogram do,
``media_assets.storage.analysis_audio``), and a 1 KiB range from the middle (what a seek in the
audio player asks for). It prints the median and p95 of each in milliseconds, and the process's
CPU time per operation, which other processes on a busy machine disturb less than wall time.
"""

import argparse
import base64
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

import django

django.setup()

from django.core.files.base import ContentFile  # noqa: E402
from django.core.files.storage import FileSystemStorage  # noqa: E402

from bench.harness import machine  # noqa: E402
from bench.ingest import clip  # noqa: E402
from media_assets import audio  # noqa: E402
from media_assets.encrypted_storage import EncryptedFileSystemStorage  # noqa: E402

KEYS = "bench:" + base64.b64encode(os.urandom(32)).decode()


def operations(storage, key: str, content: bytes):
    def save():
        storage.save(key, ContentFile(content))

    def read():
        with storage.open(key) as handle:
            assert len(handle.read()) == len(content)

    def decode():
        with storage.open(key) as handle:
            audio.decode(handle, max_duration_s=60, min_duration_s=0, target_rate=16000)

    def range_read():
        with storage.open(key) as handle:
            handle.seek(len(content) // 2)
            handle.read(1024)

    return {"save": save, "read whole": read, "read + decode": decode, "1 KiB range": range_read}


def timed(operation) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    operation()
    return (time.perf_counter() - wall) * 1000, (time.process_time() - cpu) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as plain_dir, tempfile.TemporaryDirectory() as sealed_dir:
        storages = {
            "plain": FileSystemStorage(location=plain_dir),
            "encrypted": EncryptedFileSystemStorage(location=sealed_dir, keys=KEYS),
        }
        results = {name: {} for name in storages}
        for index in range(args.files):
            content = clip(index)
            for name, storage in storages.items():
                for step, operation in operations(storage, f"r/{index}.wav", content).items():
                    results[name].setdefault(step, []).append(timed(operation))
    print(f"machine: {machine()}; {args.files} files of {len(clip(0)) // 1024} KiB")
    for step in results["plain"]:
        line = []
        for name in storages:
            wall = sorted(w for w, _ in results[name][step])
            cpu = statistics.mean(c for _, c in results[name][step])
            p95 = wall[int(0.95 * (len(wall) - 1))]
            line.append(f"{name} p50 {statistics.median(wall):6.3f} p95 {p95:6.3f} "
                        f"cpu {cpu:6.3f} ms")  # fmt: skip
        print(f"{step:14s} " + " | ".join(line))


if __name__ == "__main__":
    main()
