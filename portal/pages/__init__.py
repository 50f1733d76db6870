"""The clinician-facing pages (server-rendered): home, patients, results, review."""
