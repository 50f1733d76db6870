"""Inference metrics (served by the inference worker's own metrics endpoint, and /metrics).

The queue's gauges are set by the sweeper, so they are served by the worker that runs it (the
``worker`` job of deploy/prometheus/prometheus.yml), and so are the model's watch metrics (rollbacks
and input drift), set by beat tasks on that worker."""

from prometheus_client import Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)

INFERENCE_SECONDS = Histogram(
    "portal_inference_seconds", "Model time for one batch", ["model_version"],
    buckets=LATENCY_BUCKETS,
)  # fmt: skip
QUEUE_WAIT_SECONDS = Histogram(
    "portal_inference_queue_wait_seconds", "From enqueue to the start of analysis",
    buckets=LATENCY_BUCKETS,
)  # fmt: skip
END_TO_END_SECONDS = Histogram(
    "portal_diagnostic_end_to_end_seconds", "From the upload's commit to the published result",
    buckets=LATENCY_BUCKETS,
)  # fmt: skip
BATCH_SIZE = Histogram(
    "portal_inference_batch_size", "Diagnostics analysed together", buckets=(1, 2, 4, 8, 16, 32, 64)
)
RESULTS = Counter("portal_diagnostic_results_total", "Finished diagnostics by label", ["label"])
FAILURES = Counter("portal_diagnostic_failures_total", "Failed diagnostics by reason", ["reason"])
QUEUE_LENGTH = Gauge("portal_inference_queue_length", "Diagnostics waiting for analysis")
THROUGHPUT = Gauge(
    "portal_inference_throughput_clips_per_second",
    "Clips per second the inference workers measured over the sliding window, summed over the"
    " workers (0 while nothing was measured)",
)
EXPECTED_WAIT = Gauge(
    "portal_inference_expected_wait_seconds",
    "Expected wait of the last diagnostic in the queue, as uploads are told it",
)
# Set by the maintenance worker's beat tasks (diagnostics.canary, diagnostics.drift): "worker" job.
ROLLBACKS = Counter(
    "portal_model_rollbacks_total",
    "Canary or shadow models rolled back by the automatic comparison with production",
    ["mode"],
)
for _mode in (
    "canary",
    "shadow",
):  # served at 0 from the start, so the first rollback is an increase
    ROLLBACKS.labels(_mode)
INPUT_DRIFT = Gauge(
    "portal_model_input_drift",
    "Shift of the production model's recent inputs from its training reference, in reference"
    " standard deviations (duration, loudness) or reference spread (embedding mean)",
    ["measure"],
)
