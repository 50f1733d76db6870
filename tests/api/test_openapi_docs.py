"""The OpenAPI document describes every route, and the docs page runs on our own static files."""

import re

import pytest
import yaml

pytestmark = pytest.mark.django_db

ROUTES = {
    "/api/v1/auth/token/", "/api/v1/auth/token/refresh/", "/api/v1/auth/token/revoke/",
    "/api/v1/patients/",
    "/api/v1/patients/{id}/", "/api/v1/diagnostics/", "/api/v1/diagnostics/{id}/",
    "/api/v1/diagnostics/{id}/review/", "/api/v1/diagnostics/{id}/retry/", "/api/v1/models/",
    "/api/v1/recordings/", "/api/v1/uploads/", "/api/v1/research/diagnostics/",
    "/api/v1/research/recordings/{pseudonym}/audio",
}  # fmt: skip


def test_the_schema_is_openapi_3_with_every_route_and_the_error_shape(client):
    response = client.get("/api/schema/")
    schema = yaml.safe_load(response.content)

    assert response.status_code == 200
    assert schema["openapi"].startswith("3.")
    assert set(schema["paths"]) >= ROUTES
    assert schema["components"]["schemas"]["Error"]["required"] == ["error"]
    export = schema["paths"]["/api/v1/research/diagnostics/"]["get"]
    assert set(export["responses"]["200"]["content"]) == {
        "text/csv",
        "application/x-ndjson",
        "application/vnd.apache.parquet",
    }
    assert export["responses"]["429"]["headers"]["Retry-After"]
    assert {"jwtAuth", "cookieAuth"} <= set(schema["components"]["securitySchemes"])


def test_the_docs_page_loads_its_scripts_and_styles_from_our_static_files(client):
    page = client.get("/api/docs/")
    html = page.content.decode()

    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert page.status_code == 200
    assert any(a.endswith("swagger-ui-bundle.js") for a in assets)
    assert any(a.endswith("swagger-ui.css") for a in assets)
    assert all(a.startswith("/static/drf_spectacular_sidecar/") for a in assets)
    assert re.findall(r"https?://", html) == []  # no CDN, no online validator
    for asset in assets:
        response = client.get(asset)
        body = b"".join(response.streaming_content) if response.streaming else response.content
        assert response.status_code == 200 and body, asset
