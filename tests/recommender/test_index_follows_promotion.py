"""After a model promotion the index follows: the periodic check notices that the live build
covers another model version, the rebuild builds one for the new production model, older
diagnostics are re-embedded by it (its vectors, not the old model's), and similar cases come
from the new model's index. Real models (tiny, trained on SYNTHETIC sounds), real inference."""

import numpy as np
import pytest

from diagnostics import registry
from diagnostics.models import DiagnosticStatus, ModelStatus
from recommender import embeddings, indexing
from recommender.live import live_index
from recommender.models import CaseEmbedding, IndexBuild
from recommender.selectors import similar_cases
from tests.recommender.synthetic_cases import analysed_cases

pytestmark = pytest.mark.django_db


@pytest.fixture
def first_model(tiny_artifact, media_root):
    return registry.register_model_version(
        artifact_path=tiny_artifact, status=ModelStatus.PRODUCTION
    )


def reembed_everything(version) -> None:
    phase, after = "reviewed", 0
    while phase is not None:
        progress = indexing.reembed_step(version_id=version.pk, phase=phase, after_id=after)
        phase, after = progress.phase, progress.after_id


def test_a_promotion_is_noticed_and_the_index_moves_to_the_new_model(
    first_model, second_artifact, site, clinician
):
    cases = analysed_cases(site=site, user=clinician, n=10)
    assert all(d.status == DiagnosticStatus.SUCCEEDED for d in cases)
    assert indexing.sync_index().rebuild_reason == "first"
    first_build = indexing.rebuild_index(reason="first")
    assert first_build.model_version == first_model and first_build.count == 10
    assert indexing.sync_index().rebuild_reason is None

    second = registry.register_model_version(artifact_path=second_artifact)
    registry.promote(version=second)
    status = indexing.sync_index()

    assert status.rebuild_reason == "promotion" and status.reembed_pending
    build = indexing.rebuild_index(reason=status.rebuild_reason)
    assert build.model_version == second and live_index.state().model_version_id == second.pk
    query = cases[0]
    assert similar_cases(diagnostic=query, user=clinician).unavailable == "not_embedded"

    reembed_everything(second)

    assert CaseEmbedding.objects.filter(model_version=second).count() == 10
    assert not indexing.index_status().reembed_pending
    old = embeddings.vector_of(query, model_version_id=first_model.pk)
    new = embeddings.vector_of(query, model_version_id=second.pk)
    assert new.shape == (64,) and np.isclose(np.linalg.norm(new), 1, atol=1e-4)
    assert not np.allclose(old, new)  # the new model's own embedding, not a copy
    result = similar_cases(diagnostic=query, user=clinician, k=5)  # via the live delta
    assert result.model_version_id == second.pk and result.cases
    assert {c.id for c in result.cases} <= {d.pk for d in cases[1:] if d.review_label}


def test_a_rebuild_after_re_embedding_covers_every_case(
    first_model, second_artifact, site, clinician
):
    analysed_cases(site=site, user=clinician, n=6, seed=33)
    indexing.rebuild_index(reason="first")
    second = registry.register_model_version(artifact_path=second_artifact)
    registry.promote(version=second)
    indexing.rebuild_index(reason="promotion")
    reembed_everything(second)

    build = indexing.rebuild_index(reason="scheduled")

    assert (build.model_version_id, build.count) == (second.pk, 6)
    assert live_index.state().count == 6
    assert IndexBuild.objects.filter(model_version=first_model).exists()  # kept for a while
