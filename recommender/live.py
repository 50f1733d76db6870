"""The index a process searches: the newest build plus the embeddings stored since it was built.

Every process (web, worker) holds one ``LiveIndex``. At most every ``RECOMMENDER_INDEX_CHECK_S``
seconds a search also asks the database two cheap questions: is there a newer ``IndexBuild``, and
are there ``CaseEmbedding`` rows of the build's model version after its high-water mark? New
embeddings are appended to a small exact *delta* searched beside the build, so a new case is
findable seconds after it was indexed, without a rebuild. A newer build is loaded from storage on
a background thread while searches go on against the old one; the state is then swapped by one
reference assignment. Nothing a search holds is ever mutated, so a search never blocks on a
rebuild and never sees half of one. Only the very first search of a process, with nothing to
serve yet, waits for a load.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

import numpy as np
from django.conf import settings
from django.db import connections

from portal.core.storage import STORAGE_ERRORS
from recommender import embeddings, snapshots
from recommender.index import DIMENSION, CaseIndex, Neighbours
from recommender.models import IndexBuild

logger = logging.getLogger(__name__)

LOAD_ERRORS = (*STORAGE_ERRORS, RuntimeError, ValueError, KeyError)
# An embedding whose transaction committed after a build read the table can have an id below
# the build's high-water mark: the delta starts this many ids earlier and skips what the build
# already holds.
DELTA_OVERLAP = 1000


@dataclass(frozen=True)
class Delta:
    """Embeddings stored after the build's high-water mark, searched exactly with NumPy."""

    ids: np.ndarray
    sites: np.ndarray
    vectors: np.ndarray
    last_id: int

    @classmethod
    def empty(cls, last_id: int) -> Delta:
        return cls(
            np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros((0, DIMENSION), np.float32),
            last_id,
        )  # fmt: skip

    def extended(self, vectors, ids, sites, last_id) -> Delta:
        return Delta(
            np.concatenate([self.ids, ids]), np.concatenate([self.sites, sites]),
            np.concatenate([self.vectors, vectors]), last_id,
        )  # fmt: skip

    def moved_to(self, last_id: int) -> Delta:
        return Delta(self.ids, self.sites, self.vectors, last_id)

    def search(self, vector: np.ndarray, fetch: int, *, site_ids=None) -> Neighbours:
        if not len(self.ids):
            return Neighbours.empty()
        scores = self.vectors @ vector.astype(np.float32)
        rows = np.arange(len(self.ids))
        if site_ids is not None:
            rows = rows[np.isin(self.sites, list(site_ids))]
        if len(rows) > fetch:
            rows = rows[np.argpartition(-scores[rows], fetch - 1)[:fetch]]
        return Neighbours(self.ids[rows], scores[rows])


@dataclass(frozen=True)
class LiveState:
    base: CaseIndex
    delta: Delta

    @property
    def model_version_id(self) -> int:
        return self.base.model_version_id

    @property
    def build_id(self) -> int | None:
        return self.base.build_id

    @property
    def count(self) -> int:
        return self.base.count + len(self.delta.ids)

    def search(self, vector: np.ndarray, fetch: int, *, site_ids=None) -> Neighbours:
        """Best ``fetch`` rows of the build and the delta together, ties broken by id."""
        vector = np.ascontiguousarray(vector, dtype=np.float32)
        found = [self.base.search(vector, fetch, site_ids=site_ids)]
        if len(self.delta.ids):
            found.append(self.delta.search(vector, fetch, site_ids=site_ids))
        ids = np.concatenate([n.ids for n in found])
        scores = np.concatenate([n.scores for n in found])
        order = np.lexsort((ids, -scores))[:fetch]
        return Neighbours(ids[order], scores[order])


class LiveIndex:
    def __init__(self) -> None:
        self._state: LiveState | None = None
        self._checked = float("-inf")
        # Held only for the instant of a swap: a search never waits for a load or a build.
        self._lock = threading.Lock()
        # Held while a build is read from storage, so that one process reads it once.
        self._load_lock = threading.Lock()
        self._loader: threading.Thread | None = None

    def state(self) -> LiveState | None:
        """What searches use now; looks for news at most every ``RECOMMENDER_INDEX_CHECK_S``."""
        if time.monotonic() - self._checked >= self._interval():
            self.refresh(wait=self._state is None)
        return self._state

    @staticmethod
    def _interval() -> float:
        return settings.RECOMMENDER_INDEX_CHECK_S

    def refresh(self, *, wait: bool = True) -> LiveState | None:
        """Pick up a newer build (in the background unless ``wait``) and newer embeddings."""
        self._checked = time.monotonic()
        latest = IndexBuild.objects.order_by("-id").first()
        current = self._state
        if latest is None:
            self._state = None
        elif current is None or current.build_id != latest.pk:
            if wait:
                self._load(latest)
            else:
                self._load_in_background(latest)
        else:
            self._extend_delta(current)
        return self._state

    def install(self, snapshot: CaseIndex) -> LiveState:
        """Serve ``snapshot`` (just built in this process) from now on."""
        state = LiveState(snapshot, Delta.empty(max(0, snapshot.high_water - DELTA_OVERLAP)))
        with self._lock:
            self._state = state
        self._extend_delta(state)
        return self._state

    def reset(self) -> None:
        with self._lock:
            self._state = None
            self._checked = float("-inf")

    def _load(self, build: IndexBuild) -> None:
        with self._load_lock:
            if self._state is not None and self._state.build_id == build.pk:
                return  # another thread loaded it while this one waited
            try:
                snapshot = snapshots.load(build)
            except LOAD_ERRORS as exc:
                logger.error("index build not loaded", extra={"build": build.pk, "error": str(exc)})
                return
            state = LiveState(snapshot, Delta.empty(max(0, snapshot.high_water - DELTA_OVERLAP)))
            with self._lock:
                if self._state is not None and (self._state.build_id or 0) > build.pk:
                    return  # a newer build was installed while this one loaded
                self._state = state
        self._extend_delta(state)
        logger.info("index build loaded", extra={"build": build.pk, "count": snapshot.count})

    def _load_in_background(self, build: IndexBuild) -> None:
        with self._lock:
            if self._loader is not None and self._loader.is_alive():
                return
            self._loader = threading.Thread(
                target=self._background_load, args=(build,), name="recommender-index-load",
                daemon=True,
            )  # fmt: skip
            self._loader.start()

    def _background_load(self, build: IndexBuild) -> None:
        try:
            self._load(build)
        finally:
            connections.close_all()  # this thread's own connections

    def _extend_delta(self, state: LiveState) -> None:
        room = 2 * settings.RECOMMENDER_REBUILD_DELTA - len(state.delta.ids)
        if room <= 0:
            return  # a rebuild is due; sync_index schedules it
        vectors, ids, sites, last = embeddings.all_vectors(
            state.model_version_id, after=state.delta.last_id, limit=room
        )
        fresh = ~state.base.contains(ids)
        if not fresh.any():
            if last != state.delta.last_id:  # only rows the build holds: move the mark on
                self._swap(state, LiveState(state.base, state.delta.moved_to(last)))
            return
        delta = state.delta.extended(vectors[fresh], ids[fresh], sites[fresh], last)
        self._swap(state, LiveState(state.base, delta))

    def _swap(self, old: LiveState, new: LiveState) -> None:
        with self._lock:
            if self._state is old:  # not swapped for a newer build meanwhile
                self._state = new


live_index = LiveIndex()
