"""How research rows leave the database, in bounded pieces whatever the size of the export.

- ``copy_csv``: PostgreSQL's own ``COPY (SELECT …) TO STDOUT WITH CSV`` of the research query,
  passed on in chunks as the server produces it. The fastest path there is (the server formats
  every value), and the server never materialises the result.
- ``cursor_rows``: the same query through a Django iterator, in batches of tuples. On PostgreSQL
  that is a server-side cursor; on SQLite the cursor steps through the result.
- ``arrow_batches``: typed Apache Arrow record batches for NDJSON and Parquet, parsed by Arrow's
  CSV reader from ``copy_csv`` on PostgreSQL, or built from ``cursor_rows`` elsewhere.

Every source counts the rows it has handed out in a ``Progress``, for the export's audit event.
"""

import datetime
from collections.abc import Iterator
from dataclasses import dataclass

import pyarrow as pa
from django.conf import settings
from django.db import connection
from django.db.models import QuerySet
from pyarrow import csv as pa_csv

from portal.research.rows import Column, alias

CHUNK_BYTES = 256 * 1024
ROW_BATCH = 5000
ARROW_BLOCK_BYTES = 4 * 1024 * 1024

ARROW_TYPES = {
    "str": pa.string(),
    "int": pa.int64(),
    "float": pa.float64(),
    "bool": pa.bool_(),
    "date": pa.date32(),
}


@dataclass
class Progress:
    rows: int = 0


def use_copy() -> bool:
    return connection.vendor == "postgresql" and settings.RESEARCH_EXPORT_COPY


def arrow_schema(columns: list[Column]) -> pa.Schema:
    return pa.schema([pa.field(c.name, ARROW_TYPES[c.kind]) for c in columns])


def copy_statement(rows: QuerySet, columns: list[Column]) -> tuple[str, tuple]:
    """The COPY of ``rows`` with the export's column names (the annotations carry prefixes)."""
    select, params = rows.query.sql_with_params()
    quote = connection.ops.quote_name
    names = ", ".join(f"{quote(alias(c))} AS {quote(c.name)}" for c in columns)
    # Identifiers quoted, values passed as parameters: nothing here comes from a request.
    statement = (
        f"COPY (SELECT {names} FROM ({select}) AS research_row) "  # noqa: S608
        "TO STDOUT WITH (FORMAT csv, HEADER)"
    )
    return statement, params


def copy_csv(rows: QuerySet, columns: list[Column], progress: Progress) -> Iterator[bytes]:
    """CSV with a header line, straight from PostgreSQL, in chunks of about ``CHUNK_BYTES``."""
    statement, params = copy_statement(rows, columns)
    with connection.cursor() as cursor:
        header_pending = True
        with cursor.cursor.copy(statement, params) as copy:
            buffer = bytearray()
            for data in copy:  # one row per item
                buffer += data
                if len(buffer) >= CHUNK_BYTES:
                    progress.rows += buffer.count(b"\n") - header_pending
                    header_pending = False
                    yield bytes(buffer)
                    buffer.clear()
            if buffer:
                yield bytes(buffer)
        # The server's own count: exact, whatever a value holds.
        progress.rows = cursor.cursor.rowcount


def cursor_rows(rows: QuerySet, progress: Progress) -> Iterator[list[tuple]]:
    batch = []
    for row in rows.iterator(chunk_size=ROW_BATCH):
        batch.append(row)
        if len(batch) == ROW_BATCH:
            progress.rows += len(batch)
            yield batch
            batch = []
    if batch:
        progress.rows += len(batch)
        yield batch


def arrow_batches(rows: QuerySet, columns: list[Column], progress: Progress):
    schema = arrow_schema(columns)
    if use_copy():
        batches = _batches_from_copy(rows, columns, schema)
    else:
        batches = _batches_from_rows(cursor_rows(rows, Progress()), columns, schema)
    for batch in batches:
        progress.rows += batch.num_rows
        yield batch


def _batches_from_copy(rows, columns, schema) -> Iterator[pa.RecordBatch]:
    """Arrow batches parsed from COPY's CSV, a block of whole lines at a time.

    The blocks are parsed here, in the request's thread, rather than by Arrow's streaming reader,
    which reads its input from a thread of its own: Django's connection is per thread, and the
    COPY must run on the request's. No value can hold a line break (every column is a code, a
    number, a pseudonym or a date), so a block ends at a line end.
    """
    read_options = pa_csv.ReadOptions(use_threads=False, column_names=schema.names)
    convert_options = pa_csv.ConvertOptions(
        column_types=schema,
        strings_can_be_null=True,  # COPY writes NULL as an unquoted empty field...
        quoted_strings_can_be_null=False,  # ...and an empty string as ""
        true_values=["true"],
        false_values=["false"],
    )

    def parse(block: bytes, *, header: bool) -> list[pa.RecordBatch]:
        read_options.skip_rows = 1 if header else 0
        table = pa_csv.read_csv(
            pa.py_buffer(block), read_options=read_options, convert_options=convert_options
        )
        return table.to_batches()

    pending = bytearray()
    header = True
    for chunk in copy_csv(rows, columns, Progress()):
        pending += chunk
        if len(pending) >= ARROW_BLOCK_BYTES:
            cut = pending.rfind(b"\n") + 1
            yield from parse(bytes(pending[:cut]), header=header)
            header = False
            del pending[:cut]
    if pending or header:
        yield from parse(bytes(pending), header=header)


def _batches_from_rows(batches, columns, schema) -> Iterator[pa.RecordBatch]:
    converters = [_CONVERTERS.get(c.kind) for c in columns]
    for batch in batches:
        arrays = []
        for values, convert, field in zip(
            zip(*batch, strict=True), converters, schema, strict=True
        ):
            if convert is not None:
                values = [None if v is None else convert(v) for v in values]
            arrays.append(pa.array(values, type=field.type))
        yield pa.RecordBatch.from_arrays(arrays, schema=schema)


def _as_date(value):
    return value if isinstance(value, datetime.date) else datetime.date.fromisoformat(str(value))


_CONVERTERS = {"bool": lambda value: value == "true", "date": _as_date}
