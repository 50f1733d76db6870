"""A WebSocket client for the in-process ASGI application, as a browser on the portal would connect.

``channels.testing.WebsocketCommunicator`` does the same, but importing ``channels.testing`` pulls
in Daphne (for its live-server test case), which the project does not install; this is the part we
use, on asgiref's ``ApplicationCommunicator``.
"""

import json

from asgiref.testing import ApplicationCommunicator
from django.conf import settings

from portal.asgi import application

TIMEOUT = 30  # generous: the machine running the tests may be busy


class Socket(ApplicationCommunicator):
    def __init__(self, path: str, cookie: str | None = None) -> None:
        headers = [(b"origin", b"http://127.0.0.1"), (b"host", b"127.0.0.1")]
        if cookie:
            headers.append((b"cookie", cookie.encode()))
        scope = {
            "type": "websocket", "path": path, "query_string": b"", "headers": headers,
            "subprotocols": [],
        }  # fmt: skip
        super().__init__(application, scope)

    async def connect(self) -> tuple[bool, int | None]:
        """(True, None) when accepted; (False, close code) when refused."""
        await self.send_input({"type": "websocket.connect"})
        response = await self.receive_output(TIMEOUT)
        if response["type"] == "websocket.close":
            return False, response.get("code", 1000)
        assert response["type"] == "websocket.accept", response
        return True, None

    async def receive_json(self) -> dict:
        response = await self.receive_output(TIMEOUT)
        assert response["type"] == "websocket.send", response
        return json.loads(response["text"])

    async def disconnect(self) -> None:
        await self.send_input({"type": "websocket.disconnect", "code": 1000})
        await self.wait(TIMEOUT)


def session_cookie(client, user) -> str:
    """A real session for ``user``, as the browser's cookie header carries it."""
    client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
