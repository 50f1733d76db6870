"""Routing of the REST API under ``/api/v1/`` and its OpenAPI description; each app owns its views."""
