"""Finding 3: no response that can carry patient data may be kept by a browser or a proxy.

Every route of the permission matrix (pages, API lists and details, audio, spectrograms, exports,
the admin) is walked as every role that may see it, and each answer must say ``no-store``; the
conditional GET of API details still answers 304 to a current ETag.
"""

import pytest

from tests.factories import verified_login
from tests.portal.test_permission_matrix import (  # noqa: F401 - ``world`` is a fixture
    RULES,
    concrete,
    project_routes,
    request_as,
    world,
)

SIGNED_IN = ["clinician", "researcher", "site_admin", "superuser"]


def cache_control(response) -> set[str]:
    return {part.strip() for part in response.get("Cache-Control", "").split(",") if part.strip()}


@pytest.mark.parametrize("role", SIGNED_IN)
def test_every_route_answers_no_store_to_every_role(client, world, role):  # noqa: F811
    users, ids = world
    if role in ("site_admin", "superuser"):
        verified_login(client, users[role])
    else:
        client.force_login(users[role])
    client.raise_request_exception = False
    cacheable = []
    for route in project_routes():
        url = "/admin/portal/patient/" if route == "admin/" else concrete(route, ids)
        response = request_as(client, url)
        if "no-store" not in cache_control(response):
            cacheable.append(f"{url} ({response.status_code}): {response.get('Cache-Control')!r}")

    assert cacheable == []


def test_a_spectrogram_is_not_kept_in_the_browser_cache(client, world):  # noqa: F811
    users, ids = world
    client.force_login(users["clinician"])

    response = client.get(f"/media/recordings/{ids['recordings/']}/spectrogram.png")

    assert response.status_code == 200
    assert "no-store" in cache_control(response)
    assert not any(part.startswith("max-age") for part in cache_control(response))


def test_an_api_detail_keeps_its_etag_and_304_under_no_store(client, world):  # noqa: F811
    users, ids = world
    client.force_login(users["clinician"])
    url = f"/api/v1/diagnostics/{ids['diagnostics/']}/"

    first = client.get(url)
    again = client.get(url, headers={"If-None-Match": first["ETag"]})

    assert first.status_code == 200 and "no-store" in cache_control(first)
    assert again.status_code == 304 and "no-store" in cache_control(again)
