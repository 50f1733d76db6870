"""404 and 500 answers: pages in the portal's layout, JSON under /api/, a request id on 500."""

import pytest


def test_an_unknown_page_is_a_404_page_in_the_layout(client):
    response = client.get("/no-such-page/")

    assert response.status_code == 404
    assert b"We could not find that page" in response.content
    assert b'class="site-header"' in response.content


def test_an_unknown_api_route_is_a_404_in_the_error_shape(client):
    response = client.get("/api/v1/no-such-thing/")

    assert response.status_code == 404
    assert response.json() == {"error": {"code": "not_found", "message": "Not found."}}


@pytest.mark.urls("tests.portal.failing_urls")
def test_a_server_error_page_shows_the_request_id_and_no_traceback(client):
    client.raise_request_exception = False

    page = client.get("/boom/")
    api = client.get("/api/v1/boom/")

    assert page.status_code == 500
    request_id = page["X-Request-ID"]
    assert request_id.encode() in page.content
    assert b"Traceback" not in page.content and b"a bug" not in page.content
    assert api.status_code == 500
    assert api.json()["error"]["code"] == "server_error"
    assert api.json()["error"]["request_id"] == api["X-Request-ID"]
