"""The three export formats, each a generator of byte chunks of bounded size.

CSV is PostgreSQL's COPY output passed through unchanged where it can be (``sources.copy_csv``), and
Python's ``csv`` module over cursor rows elsewhere; both write a header line, ``\\n`` line ends,
quotes only where needed, empty fields for missing values and ``true``/``false`` for flags.
NDJSON (one JSON object per line) and Parquet are written from typed Arrow batches, so a column
has the same type in every format and on every database. Parquet row groups are flushed to the
response as they fill, with the footer last.
"""

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass

import pyarrow as pa
from pyarrow import parquet as pq

from portal.research.rows import Column
from portal.research.sources import (
    CHUNK_BYTES,
    Progress,
    arrow_batches,
    arrow_schema,
    copy_csv,
    cursor_rows,
    use_copy,
)

PARQUET_ROW_GROUP = 64 * 1024


@dataclass(frozen=True)
class Format:
    name: str
    content_type: str
    extension: str


FORMATS = {
    "csv": Format("csv", "text/csv; charset=utf-8", "csv"),
    "ndjson": Format("ndjson", "application/x-ndjson", "ndjson"),
    "parquet": Format("parquet", "application/vnd.apache.parquet", "parquet"),
}


def write(fmt: str, rows, columns: list[Column], progress: Progress) -> Iterator[bytes]:
    if fmt == "csv":
        if use_copy():
            return copy_csv(rows, columns, progress)
        return _csv_from_rows(cursor_rows(rows, progress), columns)
    if fmt == "ndjson":
        return _ndjson(arrow_batches(rows, columns, progress))
    if fmt == "parquet":
        return _parquet(arrow_batches(rows, columns, progress), arrow_schema(columns))
    raise ValueError(f"unknown export format {fmt!r}")


def _csv_from_rows(batches, columns: list[Column]) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([c.name for c in columns])
    for batch in batches:
        writer.writerows(batch)
        if buffer.tell() >= CHUNK_BYTES:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()


def _json_value(value):
    return value.isoformat()  # dates are the only values JSON has no type for


def _ndjson(batches) -> Iterator[bytes]:
    encode = json.JSONEncoder(default=_json_value, separators=(",", ":")).encode
    for batch in batches:
        lines = [encode(row) for row in batch.to_pylist()]
        yield ("\n".join(lines) + "\n").encode()


class _Drain(io.RawIOBase):
    """A write-only file that hands what was written to the next chunk of the response."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._position = 0

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self._parts.append(bytes(data))
        self._position += len(data)
        return len(data)

    def tell(self) -> int:
        return self._position

    def take(self) -> bytes:
        data = b"".join(self._parts)
        self._parts.clear()
        return data


def _parquet(batches, schema: pa.Schema) -> Iterator[bytes]:
    sink = _Drain()
    writer = pq.ParquetWriter(sink, schema, compression="zstd")
    pending: list[pa.RecordBatch] = []
    pending_rows = 0
    try:
        for batch in batches:
            pending.append(batch)
            pending_rows += batch.num_rows
            if pending_rows >= PARQUET_ROW_GROUP:
                writer.write_table(pa.Table.from_batches(pending, schema), pending_rows)
                pending, pending_rows = [], 0
                yield sink.take()
        if pending:
            writer.write_table(pa.Table.from_batches(pending, schema), pending_rows)
    finally:
        writer.close()
        # Arrow keeps freed buffers for reuse; hand them back so the process shrinks again.
        pa.default_memory_pool().release_unused()
    yield sink.take()
