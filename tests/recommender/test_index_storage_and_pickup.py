"""The index is persisted to storage with what it covers, and another process (a web server)
picks up a newer build and newly indexed cases without a restart, searching the old build
until the new one is loaded."""

import json
import time

import numpy as np
import pytest
from django.core.files.storage import default_storage

from recommender import index, indexing, snapshots
from recommender.live import LiveIndex
from recommender.models import CaseEmbedding, IndexBuild
from recommender.selectors import similar_cases
from tests.factories import PatientFactory
from tests.recommender.cases import axis_vector, case, ids, near


@pytest.fixture
def cases(site, version):
    query = case(patient=PatientFactory(site=site), vector=axis_vector(), version=version)
    reviewed = [
        case(patient=PatientFactory(site=site), vector=near(0.8 - i / 20, 10 + i),
             version=version, review_label="healthy")
        for i in range(3)
    ]  # fmt: skip
    return query, reviewed


@pytest.mark.django_db
def test_a_build_is_stored_with_its_metadata_and_id_mapping(cases, version):
    _, reviewed = cases

    build = indexing.rebuild_index(reason="test")

    assert build.index_key.startswith(f"recommender/index-{version.pk}-4-")
    assert build.index_key.endswith(".faiss") and build.mapping_key.endswith(".npz")
    meta = json.loads(default_storage.open(build.meta_key).read())
    assert meta["model_version"] == version.pk and meta["count"] == 4
    assert meta["kind"] == "flat" and meta["built_at"] and meta["high_water"] == build.high_water
    assert meta["index_key"] == build.index_key and meta["mapping_key"] == build.mapping_key
    loaded = snapshots.load(build)
    assert sorted(loaded.ids.tolist()) == sorted([cases[0].pk] + [d.pk for d in reviewed])


@pytest.mark.django_db
def test_old_builds_and_their_files_are_pruned(cases):
    builds = [indexing.rebuild_index(reason="test") for _ in range(5)]

    assert list(IndexBuild.objects.order_by("id")) == builds[-3:]
    assert not default_storage.exists(builds[0].index_key)
    assert default_storage.exists(builds[-1].index_key)


@pytest.mark.django_db
def test_a_newly_indexed_case_is_found_without_a_rebuild(cases, site, version, clinician):
    query, _ = cases
    indexing.rebuild_index(reason="test")
    web = LiveIndex()  # another process's view of the index
    assert web.state().count == 4

    newcomer = case(patient=PatientFactory(site=site), vector=near(0.95, 30), version=version,
                    review_label="anomaly")  # fmt: skip
    assert indexing.index_diagnostic(diagnostic_id=newcomer.pk)

    assert CaseEmbedding.objects.filter(diagnostic=newcomer, model_version=version).exists()
    assert web.state().count == 5 and newcomer.pk in web.state().search(axis_vector(), 2).ids
    assert ids(similar_cases(diagnostic=query, user=clinician, k=1)) == [newcomer.pk]


@pytest.mark.django_db(transaction=True)
def test_a_newer_build_is_loaded_in_the_background_while_the_old_one_serves(cases, settings):
    first = indexing.rebuild_index(reason="test")
    web = LiveIndex()
    assert web.state().build_id == first.pk

    second = indexing.rebuild_index(reason="test")
    served = web.state()  # notices the newer build, starts loading it, answers at once

    assert served.build_id == first.pk
    deadline = time.monotonic() + 30
    while web.state().build_id != second.pk and time.monotonic() < deadline:
        time.sleep(0.05)
    assert web.state().build_id == second.pk


@pytest.mark.django_db
def test_a_process_checks_for_news_at_most_every_interval(cases, settings):
    settings.RECOMMENDER_INDEX_CHECK_S = 3600
    first = indexing.rebuild_index(reason="test")
    web = LiveIndex()
    assert web.state().build_id == first.pk

    indexing.rebuild_index(reason="test")

    assert web.state().build_id == first.pk  # within the interval: no query, the same build


@pytest.mark.django_db
def test_an_embedding_committed_late_below_the_high_water_mark_is_still_picked_up(site, version):
    """A transaction that began before a build read the table, and committed after, leaves an
    embedding with an id below the build's mark that the build does not hold."""
    early, late, later = (
        case(patient=PatientFactory(site=site), vector=near(0.9, 10 + i), version=version)
        for i in range(3)
    )
    indexing.sync_index()
    rows = {e.diagnostic_id: e for e in CaseEmbedding.objects.all()}
    unseen = rows[late.pk]
    snapshot = index.build(
        np.stack([rows[d.pk].as_array() for d in (early, later)]),
        np.array([early.pk, later.pk]), np.array([site.pk, site.pk]),
        model_version_id=version.pk, high_water=rows[later.pk].pk,
    )  # fmt: skip
    assert unseen.pk < snapshot.high_water

    state = LiveIndex().install(snapshot)

    assert sorted(state.search(axis_vector(), 5).ids.tolist()) == sorted(
        [early.pk, late.pk, later.pk]
    )
    assert state.count == 3  # and the build's own rows are not counted twice
