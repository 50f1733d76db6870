"""The clinic core, the bottom layer every other app builds on.

Sites, memberships, patients, the audit log and the one permission module, and the machinery every
app shares (``rest``: API errors, pagination, access classes, conditional responses, filters,
throttling; the audited admin base; storage errors; request ids; background threads). It imports
no other app of the project: ``pyproject.toml``'s import-linter contracts keep it so.
"""
