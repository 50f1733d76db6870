"""The similar-case index: FAISS over the unit embeddings of one model version.

A ``CaseIndex`` is immutable once built. Processes hold one and swap in a newer one by reference
(``recommender.live``), so a search never waits for a build and never sees a half-built index.

Row ``i`` of the FAISS index is diagnostic ``ids[i]`` of site ``sites[i]``. The site is a
*pre-filter* only: searches skip rows of sites the user cannot reach, so the few raw neighbours
fetched are likely to survive the permission filter, but the permission queryset applied to the
results afterwards is what decides (a patient moved to another site since the build is caught
there). Inner product equals cosine because every vector is L2-normalised.

Below ``RECOMMENDER_EXACT_MAX`` cases the index is exact (``IndexFlatIP``); above it, IVF or HNSW
(``RECOMMENDER_ANN``).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import faiss
import numpy as np
from django.conf import settings

from recommender.models import IndexKind

DIMENSION = 64  # diagnostics.ml.model.EMBEDDING_DIM (not imported: it loads TensorFlow)
_SELECTOR_CACHE_SIZE = 64


@dataclass(frozen=True)
class Neighbours:
    """Raw neighbours of one query, best first: diagnostic ids and cosine similarities."""

    ids: np.ndarray
    scores: np.ndarray

    @classmethod
    def empty(cls) -> Neighbours:
        return cls(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32))


@dataclass(eq=False)
class CaseIndex:
    index: faiss.Index | None
    ids: np.ndarray
    sites: np.ndarray
    model_version_id: int
    high_water: int
    kind: str
    built_at: datetime | None = None
    build_id: int | None = None
    _selectors: dict = field(default_factory=dict, repr=False)
    _selector_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _sorted_ids: np.ndarray | None = field(default=None, repr=False)

    @property
    def count(self) -> int:
        return len(self.ids)

    def contains(self, diagnostic_ids: np.ndarray) -> np.ndarray:
        """Which of ``diagnostic_ids`` this index holds (a boolean mask)."""
        if self._sorted_ids is None:
            self._sorted_ids = np.sort(self.ids)
        if not len(self._sorted_ids):
            return np.zeros(len(diagnostic_ids), dtype=bool)
        at = np.minimum(np.searchsorted(self._sorted_ids, diagnostic_ids), self.count - 1)
        return self._sorted_ids[at] == diagnostic_ids

    def search(self, vector: np.ndarray, fetch: int, *, site_ids=None) -> Neighbours:
        """The ``fetch`` nearest rows to ``vector`` among ``site_ids`` (None: every site)."""
        if self.index is None or not self.count or fetch <= 0:
            return Neighbours.empty()
        params = self._params(fetch, site_ids)
        if params is False:
            return Neighbours.empty()
        query = np.ascontiguousarray(vector, dtype=np.float32).reshape(1, -1)
        scores, rows = self.index.search(query, min(fetch, self.count), params=params)
        found = rows[0] >= 0  # approximate indexes pad with -1 when fewer rows qualify
        return Neighbours(self.ids[rows[0][found]], scores[0][found])

    def _params(self, fetch: int, site_ids):
        selector = None
        if site_ids is not None:
            selector = self._selector(frozenset(int(s) for s in site_ids))
            if selector is False:
                return False
        if self.kind == IndexKind.IVF:
            return faiss.SearchParametersIVF(sel=selector, nprobe=settings.RECOMMENDER_IVF_NPROBE)
        if self.kind == IndexKind.HNSW:
            ef = max(settings.RECOMMENDER_HNSW_EF_SEARCH, fetch)
            return faiss.SearchParametersHNSW(sel=selector, efSearch=ef)
        return faiss.SearchParameters(sel=selector) if selector is not None else None

    def _selector(self, site_ids: frozenset):
        """A bitmap selector of the rows of ``site_ids``, cached per site set for this index.

        None when every row qualifies, False when none does.
        """
        cached = self._selectors.get(site_ids)
        if cached is not None:
            return cached[0]
        mask = np.isin(self.sites, np.fromiter(site_ids, dtype=np.int64, count=len(site_ids)))
        if mask.all():
            entry = (None, None)
        elif not mask.any():
            entry = (False, None)
        else:
            bitmap = np.packbits(mask, bitorder="little")
            # The selector points into ``bitmap``: the cache keeps both alive together.
            entry = (faiss.IDSelectorBitmap(self.count, faiss.swig_ptr(bitmap)), bitmap)
        with self._selector_lock:
            if len(self._selectors) >= _SELECTOR_CACHE_SIZE:
                self._selectors.clear()
            self._selectors[site_ids] = entry
        return entry[0]


def choose_kind(count: int) -> str:
    if count <= settings.RECOMMENDER_EXACT_MAX:
        return IndexKind.FLAT
    if settings.RECOMMENDER_ANN == "hnsw":
        return IndexKind.HNSW
    return IndexKind.IVF


def build(
    vectors: np.ndarray,
    ids: np.ndarray,
    sites: np.ndarray,
    *,
    model_version_id: int,
    high_water: int,
    kind: str | None = None,
) -> CaseIndex:
    """A new index over ``vectors`` (float32 [n, 64], unit rows); CPU-bound, seconds at 1M."""
    use_threads()
    vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1, DIMENSION)
    kind = kind or choose_kind(len(vectors))
    index = _faiss_index(kind, vectors) if len(vectors) else None
    return CaseIndex(
        index=index,
        ids=np.asarray(ids, dtype=np.int64),
        sites=np.asarray(sites, dtype=np.int64),
        model_version_id=model_version_id,
        high_water=high_water,
        kind=kind,
    )


def _faiss_index(kind: str, vectors: np.ndarray) -> faiss.Index:
    if kind == IndexKind.FLAT:
        index = faiss.IndexFlatIP(DIMENSION)
    elif kind == IndexKind.HNSW:
        index = faiss.IndexHNSWFlat(
            DIMENSION, settings.RECOMMENDER_HNSW_M, faiss.METRIC_INNER_PRODUCT
        )
        index.hnsw.efConstruction = settings.RECOMMENDER_HNSW_EF_CONSTRUCTION
    else:
        index = _trained_ivf(vectors)
    index.add(vectors)
    return index


def _trained_ivf(vectors: np.ndarray) -> faiss.Index:
    # About sqrt(n) lists (at most 4096, and k-means wants ~39 points per list), trained on a
    # seeded sample: k-means on all rows would cost as much as the rest of the build for no
    # measurable gain in recall.
    n = len(vectors)
    nlist = max(1, min(4096, int(np.sqrt(n)), n // 39))
    quantizer = faiss.IndexFlatIP(DIMENSION)
    index = faiss.IndexIVFFlat(quantizer, DIMENSION, nlist, faiss.METRIC_INNER_PRODUCT)
    index.cp.niter = 10
    index.cp.seed = 1234
    sample = np.random.default_rng(0).choice(n, size=min(n, 40 * nlist), replace=False)
    index.train(vectors[np.sort(sample)])
    return index


def write(case_index: CaseIndex, path: Path) -> None:
    """The FAISS index to a local file (an empty file for an empty index)."""
    if case_index.index is None:
        path.write_bytes(b"")
    else:
        faiss.write_index(case_index.index, str(path))


def read(path: Path) -> faiss.Index | None:
    return faiss.read_index(str(path)) if path.stat().st_size else None


def use_threads() -> None:
    """FAISS's OpenMP threads: one by default. On a machine whose cores are busy with the web
    and worker processes, two threads measured three times slower than one (spinning)."""
    faiss.omp_set_num_threads(settings.RECOMMENDER_FAISS_THREADS)
