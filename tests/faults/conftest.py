"""The outage tests run real processes with the inference tests' model and worker set-up."""

from tests.diagnostics.conftest import (  # noqa: F401 - fixtures
    empty_broker,
    fault_dir,
    production_model,
    tiny_artifact,
    worker_env,
)
