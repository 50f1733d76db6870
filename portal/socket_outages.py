"""A WebSocket handshake while PostgreSQL or Redis is away is accepted and closed with 4503.

Before a consumer runs, the socket stack looks up the session and the user in the database
(``AuthMiddlewareStack``); while the database is away (a restart, a failover) that raises, and
uvicorn answers an exception before the handshake with a 500. The page's contract
(``diagnostics.consumers``) is a close with 4503, the code of an unavailable part
(``portal.core.errors.ANSWERS``), which it answers by polling and reconnecting with a backoff: this
middleware, outermost on the socket stack, gives that answer to an outage anything under it lets
through, before the socket is accepted or after, and logs it once by the error's type (no path,
no ids). Any other exception is left alone: it is a bug.

It also drops what a consumer sends once the browser has gone: a result published as a page
closes is handled while the server reports the close, and the send would raise.
"""

import logging

from portal.core.errors import ANSWERS, Kind
from portal.core.outages import OUTAGE_ERRORS

logger = logging.getLogger(__name__)

UNAVAILABLE = ANSWERS[Kind.UNAVAILABLE].socket_close_code
# What reaches a browser after the handshake; a result that comes as the browser leaves is dropped
# here, where the server would raise (``RuntimeError`` after the disconnect it reported, an
# ``OSError`` during one), which uvicorn logged as "Exception in ASGI application".
TO_THE_BROWSER = frozenset({"websocket.send", "websocket.close"})


class CloseSocketsOnOutage:
    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "websocket":
            return await self.app(scope, receive, send)
        seen: set[str] = set()  # the types of the messages received and sent so far

        async def tracking_receive():
            message = await receive()
            seen.add(message["type"])
            return message

        async def tracking_send(message):
            if message["type"] in TO_THE_BROWSER and "websocket.disconnect" in seen:
                return  # gone: the consumer is handling something it had started, then leaves
            try:
                await send(message)
            except OSError:
                # ASGI's answer to a send the browser left during (uvicorn's
                # ``ClientDisconnected``); its disconnect follows, and the consumer leaves then.
                if message["type"] not in TO_THE_BROWSER:
                    raise
                seen.add("websocket.disconnect")
                return
            seen.add(message["type"])

        try:
            await self.app(scope, tracking_receive, tracking_send)
        except OUTAGE_ERRORS as exc:
            logger.warning("socket closed: a part is unavailable",
                           extra={"error": type(exc).__name__})  # fmt: skip
            await _close_unavailable(seen, receive, send)


async def _close_unavailable(seen: set[str], receive, send) -> None:
    """Accept the socket if it was not yet (a browser sees a close code only after the handshake)
    and close it with 4503; nothing when it is closed already, by either side."""
    if seen & {"websocket.close", "websocket.disconnect"}:
        return
    if "websocket.connect" not in seen:
        await receive()  # the handshake's request, which the server sends first
    if "websocket.accept" not in seen:
        await send({"type": "websocket.accept"})
    await send({"type": "websocket.close", "code": UNAVAILABLE})
