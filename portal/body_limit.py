"""Cut off request bodies above ``REQUEST_MAX_BYTES`` while they stream in.

Django's ASGI handler reads the whole body before a view runs, so a size check in a view comes too
late: a 2 GB upload would already be on disk. This ASGI middleware refuses a declared
``Content-Length`` above the limit before reading anything, and stops reading an undeclared
(chunked) body the moment it passes the limit; either way the client gets a 413 in the API's error
shape and the server has buffered at most the limit.
"""

import json

from prometheus_client import Counter

REJECTED_BODIES = Counter(
    "portal_request_bodies_rejected_total", "Request bodies cut off for exceeding the size limit"
)


class BodySizeLimitMiddleware:
    def __init__(self, app, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            return await self._reject(send)

        state = {"received": 0, "exceeded": False, "started": False}

        async def limited_receive():
            message = await receive()
            if message["type"] == "http.request":
                state["received"] += len(message.get("body", b""))
                if state["received"] > self.max_bytes:
                    state["exceeded"] = True
                    # Django treats a disconnect while reading the body as an aborted request
                    # and sends nothing, which leaves the answer to us.
                    return {"type": "http.disconnect"}
            return message

        async def tracking_send(message):
            if message["type"] == "http.response.start":
                state["started"] = True
            await send(message)

        await self.app(scope, limited_receive, tracking_send)
        if state["exceeded"] and not state["started"]:
            await self._reject(send)

    async def _reject(self, send) -> None:
        REJECTED_BODIES.inc()
        megabytes = self.max_bytes // (1024 * 1024)
        body = json.dumps(
            {
                "error": {
                    "code": "too_large",
                    "message": f"The upload is larger than the {megabytes} MB limit.",
                }
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _content_length(scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
