"""Fixtures of the recommender tests: a fresh live index per test, a production model version,
and the tiny trained models of the diagnostics tests (real TensorFlow) where a test needs one."""

import pytest

from tests.diagnostics.conftest import tiny_artifact  # noqa: F401  (a session fixture, reused)
from tests.fixtures.tiny_models import train_tiny_artifact


@pytest.fixture(autouse=True)
def fresh_live_index(settings):
    """Each test starts with no index in memory, no recommender locks or markers in the cache
    (ids repeat between tests), and looks for news on every search."""
    import redis

    from recommender.live import live_index

    settings.RECOMMENDER_INDEX_CHECK_S = 0
    live_index.reset()
    client = redis.Redis.from_url(settings.REDIS_URL)
    for key in client.scan_iter("*:recommender:*"):
        client.delete(key)
    client.close()
    yield
    live_index.reset()


@pytest.fixture
def version(db):
    from diagnostics.models import ModelStatus
    from tests.factories_clinical import ModelVersionFactory

    return ModelVersionFactory(status=ModelStatus.PRODUCTION, labels=["healthy", "anomaly"])


@pytest.fixture(scope="session")
def second_artifact(tmp_path_factory):
    """Another tiny model (another seed and version): its embeddings differ from the first's."""
    return train_tiny_artifact(
        tmp_path_factory.mktemp("model") / "tiny-2.zip", seed=5, name="tiny-test-model",
        version="2",
    )  # fmt: skip
