"""The research export: de-identified, consented data for researchers (docs/architecture.md, "An export").

``selectors`` decides which diagnostics a researcher may export, ``rows`` what a row holds (with
two database functions from ``expressions``), ``pseudonyms`` the random research ids, ``sources`` and ``writers`` how rows leave the database and
become CSV, NDJSON or Parquet, ``export`` the stream with its audit event, ``audio`` the signed
links to recordings, and ``views`` the HTTP endpoints.
"""
