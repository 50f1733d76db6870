"""One BLAS thread a process (``portal/__init__.py``): OpenBLAS's idle threads spin for about
0.1 s of CPU after every call large enough to share out, and the product's processes serve many
requests or tasks at once on cores they share.

Each case runs in a process of its own: OpenBLAS reads its thread count once, when NumPy loads it.
"""

import os

import pytest

from tests.processes import printed_json, run_python

# A similar-cases search over the recommender's recent embeddings (recommender.live.Delta.search):
# 20,000 vectors of 64 by one, as a web process makes it, then the pause until the next request.
SEARCHES = """
import json, time
{first}
import numpy as np
vectors, query = np.ones((20_000, 64), np.float32), np.ones(64, np.float32)
vectors @ query
time.sleep(0.3)
started = time.process_time()
for _ in range(3):
    vectors @ query
    time.sleep(0.3)
print(json.dumps({{"cpu_ms": (time.process_time() - started) / 3 * 1000}}))
"""


def cpu_ms_a_search(first: str, env: dict) -> float:
    return printed_json(SEARCHES.format(first=first), env=env, timeout=120)["cpu_ms"]


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="OpenBLAS uses one thread on one core")
def test_a_product_process_leaves_no_blas_threads_spinning():
    env = {key: value for key, value in os.environ.items() if key != "OPENBLAS_NUM_THREADS"}

    product = cpu_ms_a_search("import portal", env)
    plain = cpu_ms_a_search("", env)  # NumPy's default, in the same run: the threads spin

    print(
        f"CPU a search, with the pause after it: {product:.1f} ms, NumPy's default {plain:.1f} ms"
    )
    assert product < 20 < plain


def test_a_deployment_can_name_its_own_thread_count():
    printed = run_python(
        "import os, portal; print(os.environ['OPENBLAS_NUM_THREADS'])",
        env={**os.environ, "OPENBLAS_NUM_THREADS": "4"},
        timeout=60,
    )
    assert printed.strip() == "4"
