"""WebSocket routes."""

from django.urls import path

from diagnostics import consumers

websocket_urlpatterns = [
    path("ws/diagnostics/<int:pk>/", consumers.DiagnosticConsumer.as_asgi()),
    path("ws/patients/<int:pk>/", consumers.PatientConsumer.as_asgi()),
]
