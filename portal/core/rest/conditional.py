"""Conditional GET for API detail responses: ``ETag``/``If-None-Match`` and
``Last-Modified``/``If-Modified-Since``, answered with 304 when the client's copy is current.

HTTP dates have a resolution of one second, so a ``Last-Modified`` sent in the same second as the
change it names could hide a second change in that second (RFC 9110 calls such a date weak). It is
therefore only sent, and ``If-Modified-Since`` only honoured, once that second has passed; the ETag
covers the gap. ``If-None-Match`` takes precedence over ``If-Modified-Since`` (RFC 9110 13.2.2).
"""

import hashlib
import json
from collections.abc import Callable
from datetime import datetime

from django.utils import timezone
from django.utils.http import http_date, parse_http_date_safe
from rest_framework.response import Response


def etag_of(body: dict) -> str:
    digest = hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()
    return f'"{digest[:32]}"'


def _settled_second(moment: datetime | None) -> int | None:
    """``moment`` as whole seconds, or None while that second is still running."""
    if moment is None:
        return None
    second = int(moment.timestamp())
    return second if int(timezone.now().timestamp()) > second else None


def _matches(header: str, etag: str) -> bool:
    tags = [tag.strip().removeprefix("W/") for tag in header.split(",")]
    return "*" in tags or etag.removeprefix("W/") in tags


def _not_modified(request, etag: str, modified: int | None) -> bool:
    if_none_match = request.headers.get("If-None-Match")
    if if_none_match is not None:
        return _matches(if_none_match, etag)
    since = parse_http_date_safe(request.headers.get("If-Modified-Since", ""))
    return modified is not None and since is not None and modified <= since


def conditional_response(
    request, body: dict, *, last_modified: datetime | None, on_send: Callable[[], object]
) -> Response:
    """200 with ``body`` (calling ``on_send`` first, e.g. to audit the read), or 304 without it."""
    etag = etag_of(body)
    modified = _settled_second(last_modified)
    headers = {"ETag": etag}  # Cache-Control: no-store comes from portal.core.no_store
    if modified is not None:
        headers["Last-Modified"] = http_date(modified)
    if _not_modified(request, etag, modified):
        return Response(status=304, headers=headers)
    on_send()
    return Response(body, headers=headers)
