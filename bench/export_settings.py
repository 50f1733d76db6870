"""Settings for the export benchmark's server: the project's own, plus the baseline's URLconf."""

from portal.settings import *  # noqa: F403

ROOT_URLCONF = "bench.export_baseline"
