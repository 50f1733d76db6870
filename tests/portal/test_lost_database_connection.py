"""A request that loses its database connection (PostgreSQL restarted under it; issue 18.4: 5
uploads got 500 in the second after a restart): a GET or HEAD runs once more on a fresh connection
and succeeds; anything else, or a GET that fails again, is answered 503 ``database_unavailable``
with Retry-After, in JSON on the API and as a friendly page on pages, never a 500."""

import pytest
from django.db import connections

from tests.portal import lost_connection_urls

pytestmark = [
    pytest.mark.urls("tests.portal.lost_connection_urls"),
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture(autouse=True)
def fresh_counts():
    lost_connection_urls.calls.clear()
    yield
    # The test client keeps a request's dead connection (a server closes it as the request ends).
    for connection in connections.all(initialized_only=True):
        connection.close()


def test_an_api_get_that_loses_its_connection_runs_again_and_answers(client):
    response = client.get("/api/v1/lost-once/")

    assert response.status_code == 200 and response.json() == {"ok": True}
    assert lost_connection_urls.calls == {"api GET": 2}


def test_an_api_post_that_loses_its_connection_answers_503_in_json_and_is_not_repeated(client):
    response = client.post("/api/v1/lost-once/", {}, content_type="application/json")

    assert response.status_code == 503
    assert int(response["Retry-After"]) >= 1
    error = response.json()["error"]
    assert error["code"] == "database_unavailable" and "try again" in error["message"]
    assert lost_connection_urls.calls == {"api POST": 1}


def test_a_page_post_that_loses_its_connection_answers_a_friendly_503(client):
    response = client.post("/lost-once/")

    assert response.status_code == 503 and "text/html" in response["Content-Type"]
    assert "try again" in response.content.decode().lower()
    assert lost_connection_urls.calls == {"page POST": 1}


def test_a_page_get_that_fails_again_answers_503_after_one_retry(client):
    response = client.get("/lost-always/")

    assert response.status_code == 503 and "try again" in response.content.decode().lower()
    assert lost_connection_urls.calls == {"page": 2}
