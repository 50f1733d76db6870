"""WebSocket routes. The live-result consumers of ``diagnostics`` register here."""

websocket_urlpatterns: list = []
