"""The garbage collector's full passes in a web process and in the inference worker, thawed and
frozen (``portal/core/heap.py``).

Usage (PostgreSQL and Redis running; the second part needs ``bench/load.py``'s database and plan):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/portal_bench_load \\
    REDIS_URL=redis://127.0.0.1:6379/11 .venv/bin/python bench/collector.py [--visits 30]

A full pass of CPython's cyclic collector walks every object the process tracks, and every
request or task of the process waits while it does. Part one, each in a fresh process: a web
process (``portal.asgi`` imported, as each uvicorn worker does) and an inference worker's process
(the same, then TensorFlow and a model of the shipped architecture built and called once, as its
first task does). For each it prints the objects the collector tracks and the wall time of a full
pass (``gc.collect()``, median and longest of ``--passes``), thawed (``gc.unfreeze()``: as before
the freeze) and frozen.

Part two, where ``bench/load.py`` has written its plan: ``bench/visit_cost.py``'s clinician
visit, ``--visits`` patients each step, in two fresh processes, one as a web process was after
start-up before the freeze (what its imports left, no pass forced) and one frozen as it is now: the collector's passes per visit by generation, their time per visit, the
longest pass, and the process's CPU per visit (the same steps, so the two compare).
"""

import argparse
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.harness import ROOT, machine, require_services

# Runs in the child; prints one JSON line.
FULL_PASSES = """
import gc, json, statistics, sys, time
import portal.asgi  # freezes at its end, as in production
if sys.argv[1] == "inference":
    import numpy as np
    from diagnostics.ml.model import LoadedModel, ModelMetadata, build_model
    metadata = ModelMetadata(name="untrained", version="0", labels=("healthy", "anomaly"),
                              clip_seconds=5.0)
    model = LoadedModel(build_model(metadata.labels, metadata.features, metadata.clip_seconds), metadata)
    model.infer(model.fit([np.zeros(metadata.clip_samples, np.float32)]))
def passes(n):
    times = []
    for _ in range(n):
        started = time.perf_counter()
        gc.collect()
        times.append((time.perf_counter() - started) * 1000)
    return {"tracked": len(gc.get_objects()), "median_ms": statistics.median(times),
            "max_ms": max(times)}
n = int(sys.argv[2])
gc.unfreeze()
thawed = passes(n)
gc.freeze()
frozen = {**passes(n), "frozen": gc.get_freeze_count()}
print(json.dumps({"thawed": thawed, "frozen": frozen}))
"""

VISITS = """
import gc, json, os, sys, time
sys.path.insert(0, os.getcwd())
from bench import visit_cost
from bench.load import PLAN_FILE
visit_cost.setup(freeze=False)
steps, patients = visit_cost.visit_steps(json.loads(PLAN_FILE.read_text()), int(sys.argv[2]))
for step in steps.values():
    for pk, term in patients[:3]:
        step(pk, term)
if sys.argv[1] == "frozen":
    from portal.core.heap import freeze_web_process
    freeze_web_process()
passes = {0: [], 1: [], 2: []}
started = {}
def timed(phase, info):
    if phase == "start":
        started["at"] = time.perf_counter()
    else:
        passes[info["generation"]].append(time.perf_counter() - started["at"])
gc.callbacks.append(timed)
cpu = time.process_time()
for step in steps.values():
    for pk, term in patients[3:]:
        step(pk, term)
cpu = time.process_time() - cpu
gc.callbacks.remove(timed)
visits = len(patients) - 3
every = [t for times in passes.values() for t in times]
print(json.dumps({
    "visits": visits, "cpu_ms": cpu / visits * 1000,
    "per_visit": {g: len(t) / visits for g, t in passes.items()},
    "collector_ms": sum(every) / visits * 1000, "longest_ms": max(every, default=0) * 1000,
    "full_passes": len(passes[2]), "tracked": len(gc.get_objects()),
}))
"""


def child(script: str, *args: str, env: dict | None = None) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", script, *args], cwd=ROOT, capture_output=True, text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "LOG_LEVEL": "WARNING", **(env or {})},
        timeout=1800, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(done.stderr[-3000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--passes", type=int, default=7, help="full passes timed per state")
    parser.add_argument("--visits", type=int, default=30, help="patients per step in part two")
    args = parser.parse_args()
    require_services()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    from portal.management.commands.runstack import inference_env

    print(f"machine: {machine()}")
    print("full passes (gc.collect()):")
    for kind, env in (("web", None), ("inference", inference_env({}))):
        row = child(FULL_PASSES, kind, str(args.passes), env=env)
        for state in ("thawed", "frozen"):
            r = row[state]
            print(f"    {kind:10s} {state:7s} {r['tracked']:>8,d} tracked objects;"
                  f" a pass p50 {r['median_ms']:6.1f} ms, longest {r['max_ms']:6.1f} ms")  # fmt: skip
        print(f"    {kind:10s} frozen: {row['frozen']['frozen']:,d} objects")

    from bench.load import PLAN_FILE

    if not PLAN_FILE.exists():
        print(f"no {PLAN_FILE}: run bench/load.py first for the clinician visit")
        return
    print(f"a clinician visit ({args.visits} patients a step, bench/visit_cost.py's steps):")
    for state in ("thawed", "frozen"):
        r = child(VISITS, state, str(args.visits))
        per = ", ".join(f"gen {g} {n:.2f}" for g, n in r["per_visit"].items())
        print(f"    {state:7s} passes per visit: {per}; collector {r['collector_ms']:.1f} ms a"
              f" visit, longest pass {r['longest_ms']:.1f} ms ({r['full_passes']} full in"
              f" {r['visits']} visits); CPU {r['cpu_ms']:.0f} ms a visit")  # fmt: skip


if __name__ == "__main__":
    main()
