"""Finding 10: production refuses a short or placeholder ``SECRET_KEY`` and debug; its documented
deploy path collects the static files, and a production process then renders pages; ``/metrics``
needs the bearer token and is not exempt from the HTTPS redirect."""

import secrets
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.processes import (
    ROOT,
    LiveProcess,
    free_port,
    http_status,
    production_env,
    run_python,
)

REFUSED_KEYS = [
    "short",
    "x" * 60,
    "django-insecure-" + secrets.token_urlsafe(48),
    "change-me-" + secrets.token_urlsafe(48),
]


def load_settings(env) -> subprocess.CompletedProcess:
    script = "import django; django.setup(); print('started')"
    return subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True
    )


@pytest.mark.parametrize("key", REFUSED_KEYS, ids=["short", "one-letter", "insecure", "change-me"])
def test_production_refuses_a_short_or_placeholder_secret_key(tmp_path, key):
    result = load_settings({**production_env(tmp_path), "SECRET_KEY": key})

    assert result.returncode != 0
    assert "SECRET_KEY must be a random value of at least 50 characters" in result.stderr


def test_production_refuses_debug(tmp_path):
    result = load_settings({**production_env(tmp_path), "DJANGO_DEBUG": "true"})

    assert result.returncode != 0
    assert "DJANGO_DEBUG must be off when DJANGO_ENV=production" in result.stderr


def test_production_starts_with_a_random_key_and_debug_off(tmp_path):
    result = load_settings(production_env(tmp_path))

    assert result.returncode == 0, result.stderr
    assert "started" in result.stdout


def get(url: str, headers: dict) -> tuple[int, str, bytes]:
    request = urllib.request.Request(url, headers={"Host": "127.0.0.1", **headers})
    opener = urllib.request.build_opener(NoRedirects)
    try:
        with opener.open(request, timeout=10) as response:
            return response.status, response.headers.get("Location", ""), response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Location", ""), error.read()


class NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


@pytest.fixture(scope="module")
def collected_static(tmp_path_factory) -> Path:
    """The documented deploy path's first step, ``collectstatic`` under production settings, run
    once for the module (it compresses every asset, which takes seconds): its ``staticfiles``."""
    var = tmp_path_factory.mktemp("collected") / "var"
    run_python(["manage.py", "collectstatic", "--noinput", "-v", "0"], env=production_env(var))
    return var / "staticfiles"


@pytest.fixture
def production_server(process_env, tmp_path, collected_static):
    """The documented deploy path: the collected static files, then uvicorn, with
    DJANGO_ENV=production."""
    env = {**production_env(tmp_path / "var", allowed_hosts="127.0.0.1"),
           "DATABASE_URL": process_env["DATABASE_URL"], "REDIS_URL": process_env["REDIS_URL"],
           "METRICS_TOKEN": "a-metrics-token-for-the-scraper",
           "WEB_METRICS_PORT": str(free_port())}  # fmt: skip
    shutil.copytree(collected_static, tmp_path / "var" / "staticfiles")
    port = free_port()
    server = LiveProcess(
        "production",
        [sys.executable, "-m", "uvicorn", "portal.asgi:application", "--host", "127.0.0.1",
         "--port", str(port), "--no-access-log", "--lifespan", "off"],
        log_dir=tmp_path, env=env,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    server.start(ready=lambda: http_status(f"{url}/healthz", 1) is not None, timeout=60)
    server.metrics_url = f"http://127.0.0.1:{env['WEB_METRICS_PORT']}/metrics"
    server.url = url
    yield server
    server.stop()


HTTPS = {"X-Forwarded-Proto": "https"}


def test_a_production_process_renders_a_page_with_its_collected_static_files(production_server):
    status, _, page = get(f"{production_server.url}/accounts/login/", HTTPS)

    assert status == 200, page[-2000:]
    stylesheet = page.split(b'rel="stylesheet" href="')[1].split(b'"')[0].decode()
    assert stylesheet.startswith("/static/") and stylesheet.count(".") >= 2  # a hashed name
    assert get(f"{production_server.url}{stylesheet}", HTTPS)[0] == 200


def test_metrics_need_the_bearer_token_over_https(production_server):
    url = f"{production_server.url}/metrics"

    over_http = get(url, {"Authorization": "Bearer a-metrics-token-for-the-scraper"})
    anonymous = get(url, HTTPS)
    wrong = get(url, {**HTTPS, "Authorization": "Bearer not-the-token"})
    scraper = get(url, {**HTTPS, "Authorization": "Bearer a-metrics-token-for-the-scraper"})

    assert over_http[0] == 301 and over_http[1].startswith("https://")
    assert anonymous[0] == 401 and wrong[0] == 401
    assert scraper[0] == 200 and b"django_http_requests" in scraper[2]


def test_a_production_process_without_collected_static_files_refuses_to_start(tmp_path):
    env = production_env(tmp_path)
    script = "import portal.asgi; print('started')"

    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True
    )

    assert result.returncode != 0 and "started" not in result.stdout
    assert "python manage.py collectstatic --noinput" in result.stderr


def test_metrics_bound_apart_are_served_on_their_own_port(production_server):
    status, _, body = get(production_server.metrics_url, {})

    assert status == 200 and b"django_http_requests" in body


def test_collected_assets_are_compressed_but_source_maps_are_left_as_they_are(collected_static):
    collected = {p.name for p in collected_static.rglob("*")}
    compressed = {name for name in collected if name.endswith((".br", ".gz"))}

    assert "swagger-ui-bundle.js.map" in collected  # the API documentation's, the largest assets
    assert {"swagger-ui-bundle.js.br", "swagger-ui-bundle.js.gz"} <= compressed
    assert not [name for name in compressed if ".map." in name]
