"""The model on an accelerator: forward-pass throughput and training-step time, GPU against CPU.

The inference worker runs the model with TensorFlow. A lent GPU machine has no TensorFlow and no
package registry (its Python holds JAX and PyTorch), so this benchmark measures the same saved
Keras model under Keras 3's JAX backend there, on the GPU and, as the baseline in the same run, on
that machine's CPU. It measures the model only: features are computed beforehand by the product's
own front end (``diagnostics.ml.features``), here, and carried along.

Two steps:

    # here (TensorFlow): features of N synthetic 5 s clips and the model artifact, into var/gpu/
    .venv/bin/python bench/gpu_model.py prepare --artifact var/bench/inference-baseline.zip

    # on the GPU machine (keras, namex and optree carried as wheels; JAX is there):
    KERAS_BACKEND=jax python3 bench/gpu_model.py measure --dir var/gpu

``measure`` prints, per device, clips/s of ``model.predict_on_batch`` at several batch sizes
(median of timed rounds after warm-up, and p95 of a batch's latency) and the median time of a
training step (``train_on_batch``, Adam, batch 32 and 256), then GPU/CPU ratios. It imports
neither Django nor TensorFlow.
"""

import argparse
import json
import os
import statistics
import sys
import time
import zipfile
from pathlib import Path

import numpy as np

BATCHES = (1, 16, 64, 256, 1024)
TRAIN_BATCHES = (32, 256)


def prepare(artifact: Path, out: Path, clips: int) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from diagnostics.ml import synth
    from diagnostics.ml.features import FeatureConfig, fit_clips, log_mel_numpy

    config = FeatureConfig()
    sounds = synth.generate_dataset(clips, seed=7)
    samples = fit_clips([s.samples for s in sounds], round(5 * config.sample_rate))
    features = log_mel_numpy(samples, config).astype(np.float16)
    out.mkdir(parents=True, exist_ok=True)
    np.save(out / "features.npy", features)
    np.save(out / "labels.npy", np.array([s.label == "anomaly" for s in sounds], dtype=np.int32))
    with zipfile.ZipFile(artifact) as packed:
        name = next(n for n in packed.namelist() if n.endswith(".keras"))
        (out / "model.keras").write_bytes(packed.read(name))
    print(f"{clips} clips, features {features.shape} float16 ({features.nbytes / 2**20:.1f} MiB)")
    print(f"wrote {out}/features.npy, labels.npy, model.keras")


def _timed(fn, rounds: int) -> list[float]:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return times


def measure_device(directory: Path, device: str) -> dict:
    import jax
    import keras

    features = np.load(directory / "features.npy").astype(np.float32)
    labels = np.load(directory / "labels.npy")
    results = {"device": device, "predict": {}, "train_step_ms": {}}
    with jax.default_device(jax.devices(device)[0]):
        model = keras.saving.load_model(directory / "model.keras", compile=False)
        for batch in BATCHES:
            x = np.resize(features, (batch, *features.shape[1:]))
            for _ in range(3):
                np.asarray(model.predict_on_batch(x))  # warm-up and compilation
            rounds = max(5, min(50, 4096 // batch))
            times = _timed(lambda x=x: np.asarray(model.predict_on_batch(x)), rounds)
            median = statistics.median(times)
            p95 = sorted(times)[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
            results["predict"][batch] = {
                "clips_per_s": batch / median,
                "batch_ms_median": median * 1000,
                "batch_ms_p95": p95 * 1000,
            }
        trainable = keras.saving.load_model(directory / "model.keras", compile=False)
        trainable.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        for batch in TRAIN_BATCHES:
            x = np.resize(features, (batch, *features.shape[1:]))
            y = np.resize(labels, (batch,))
            for _ in range(3):
                trainable.train_on_batch(x, y)
            times = _timed(lambda x=x, y=y: trainable.train_on_batch(x, y), 20)
            results["train_step_ms"][batch] = statistics.median(times) * 1000
    return results


def measure(directory: Path) -> None:
    import jax
    import keras

    print(f"keras {keras.__version__} on {keras.backend.backend()}, jax {jax.__version__}")
    print(f"devices: {[str(d) for d in jax.devices()]}")
    try:
        devices = ["gpu", "cpu"] if jax.devices("gpu") else ["cpu"]
    except RuntimeError:  # no GPU backend: the CPU alone, to try the benchmark out
        devices = ["cpu"]
    runs = [measure_device(directory, device) for device in devices]
    for run in runs:
        print(f"\n{run['device']}:")
        print("| batch | clips/s | batch p50 | batch p95 |")
        print("| --- | --- | --- | --- |")
        for batch, row in run["predict"].items():
            print(
                f"| {batch} | {row['clips_per_s']:,.0f} | {row['batch_ms_median']:.2f} ms"
                f" | {row['batch_ms_p95']:.2f} ms |"
            )
        for batch, ms in run["train_step_ms"].items():
            print(f"training step, batch {batch}: median {ms:.1f} ms")
    out = os.environ.get("OUT")
    if out:
        Path(out, "gpu_model.json").write_text(json.dumps(runs, indent=2))
    if len(runs) < 2:
        return
    gpu, cpu = runs
    print("\nGPU / CPU (same machine, same run):")
    for batch in BATCHES:
        ratio = gpu["predict"][batch]["clips_per_s"] / cpu["predict"][batch]["clips_per_s"]
        print(f"  predict batch {batch}: {ratio:.1f}x")
    for batch in TRAIN_BATCHES:
        ratio = cpu["train_step_ms"][batch] / gpu["train_step_ms"][batch]
        print(f"  training step batch {batch}: {ratio:.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    steps = parser.add_subparsers(dest="step", required=True)
    prep = steps.add_parser("prepare")
    prep.add_argument("--artifact", type=Path, required=True)
    prep.add_argument("--out", type=Path, default=Path("var/gpu"))
    prep.add_argument("--clips", type=int, default=256)
    run = steps.add_parser("measure")
    run.add_argument("--dir", type=Path, default=Path("var/gpu"))
    args = parser.parse_args()
    if args.step == "prepare":
        prepare(args.artifact, args.out, args.clips)
    else:
        measure(args.dir)


if __name__ == "__main__":
    main()
