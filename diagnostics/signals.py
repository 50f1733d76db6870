"""The moments other layers may hear about without diagnostics knowing who listens.

Both are sent after the commit that made them true, never inside it, and only from the two places
that make them: ``diagnostics.inference.results`` (results recorded) and ``diagnostics.reviews``
(a clinician's review saved). The top's FHIR app listens (``portal.fhir.delivery``) to push them
to the hospital's record; a receiver must not raise, and must return quickly (it runs in the
inference worker between two batches).
"""

from django.dispatch import Signal

# diagnostics: the Diagnostic rows whose results were just committed (one batch).
results_recorded = Signal()

# diagnostic: the Diagnostic whose review was just committed.
diagnostic_reviewed = Signal()
