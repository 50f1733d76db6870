"""Fixtures of the recommender tests: a fresh live index per test, a production model version,
and the tiny trained models of the diagnostics tests (real TensorFlow) where a test needs one."""

import pytest

from tests.diagnostics.conftest import tiny_artifact  # noqa: F401  (a session fixture, reused)


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
    from diagnostics.ml import synth
    from diagnostics.ml.model import save_artifact
    from diagnostics.ml.train import train

    sounds = synth.generate_dataset(48, seed=5, sample_rate=16000)
    result = train(
        [(s.samples, s.label) for s in sounds], labels=synth.LABELS, epochs=1, seed=5,
        clip_seconds=2.0,
    )  # fmt: skip
    path = tmp_path_factory.mktemp("model") / "tiny-2.zip"
    metadata = result.to_metadata(name="tiny-test-model", version="2", trained_on="synthetic")
    save_artifact(result.model, metadata, path)
    return path
