"""One research export: pseudonyms first, then the rows streamed as they are read, then its audit
event.

The audit event (``research.exported``: filters, format, data set, row count) is written once,
when the stream ends, because only then is the number of rows known without a second pass over
the data (counting first would cost a second query over every row, and its count could differ
from what the stream then reads). After the last byte it says ``"completed": true`` with the exact
count; when the client goes away, ``"completed": false`` with the rows read for the stream so far
(an upper bound of what was delivered: the log errs towards more disclosure, not less). The
request that started it is in the access log either way; a server killed mid-stream is the one
case that leaves no event.

Under ASGI (uvicorn, in production) Django would collect a synchronous iterator into a list before
sending it, so there the stream is an asynchronous iterator that pulls each chunk in the request's
own worker thread (``thread_sensitive``): the thread that holds the database connection and the
server-side cursor. Under WSGI (and Django's test client) it stays a plain iterator.
"""

from collections.abc import Iterator

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIRequest
from django.http import StreamingHttpResponse

from portal.core.audit import AuditContext, record_event
from portal.research.pseudonyms import ensure_pseudonyms
from portal.research.rows import limited_columns, research_rows, safe_harbor_columns
from portal.research.selectors import LIMITED
from portal.research.sources import Progress
from portal.research.writers import FORMATS, write


def export_response(
    *, request, diagnostics, fmt: str, dataset: str, filters: dict
) -> StreamingHttpResponse:
    """Stream ``diagnostics`` (already scoped and filtered) as research rows in ``fmt``."""
    ensure_pseudonyms(diagnostics)
    columns = limited_columns() if dataset == LIMITED else safe_harbor_columns()
    progress = Progress()
    chunks = write(fmt, research_rows(diagnostics, columns), columns, progress)
    audited = _AuditedStream(
        chunks, progress, actor=request.user, context=AuditContext.of(request),
        detail={"format": fmt, "dataset": dataset, "filters": filters},
    )  # fmt: skip
    output = FORMATS[fmt]
    response = StreamingHttpResponse(_body(request, audited), content_type=output.content_type)
    response["Content-Disposition"] = (
        f'attachment; filename="research-diagnostics.{output.extension}"'
    )
    return response


class _AuditedStream:
    """The export's chunks; writes the audit event once, when they end or are abandoned."""

    def __init__(
        self, chunks: Iterator[bytes], progress: Progress, *, actor, context: AuditContext,
        detail: dict,
    ) -> None:  # fmt: skip
        # The context is taken now: by the time the stream ends, the request's middleware (and
        # the request id it bound) has returned.
        self._chunks = chunks
        self._progress = progress
        self._actor = actor
        self._context = context
        self._detail = detail
        self._audited = False

    def __iter__(self):
        return self

    def __next__(self) -> bytes:
        try:
            return next(self._chunks)
        except StopIteration:
            self._audit(completed=True)
            raise
        except BaseException:
            self._audit(completed=False)
            raise

    def close(self) -> None:
        """Called by the server when the response is done with, read to the end or not."""
        close = getattr(self._chunks, "close", None)
        if close is not None:
            close()  # ends a COPY still running
        self._audit(completed=False)

    def _audit(self, *, completed: bool) -> None:
        if self._audited:
            return
        self._audited = True
        record_event(
            action="research.exported", actor=self._actor, context=self._context,
            detail={**self._detail, "rows": self._progress.rows, "completed": completed},
        )  # fmt: skip


def _body(request, chunks: _AuditedStream):
    if isinstance(request, ASGIRequest):
        return _pulled_in_request_thread(chunks)
    return chunks


async def _pulled_in_request_thread(chunks: _AuditedStream):
    step = sync_to_async(next, thread_sensitive=True)
    try:
        while (chunk := await step(chunks, None)) is not None:
            yield chunk
    finally:
        await sync_to_async(chunks.close, thread_sensitive=True)()
