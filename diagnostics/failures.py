"""Why an analysis failed, in words a clinician can act on (shown on pages and in the API)."""

FAILURE_MESSAGES = {
    "undecodable": "The recording could not be read for analysis. Please record it again.",
    "model_unavailable": (
        "The analysis model is unavailable, so this recording could not be analysed. "
        "IT has been alerted; use Retry once they have fixed it."
    ),
    "no_model": "No analysis model is installed yet. Use Retry once one is installed.",
    "too_many_attempts": (
        "This recording could not be analysed after several attempts. "
        "Use Retry to try once more, or record again."
    ),
}
