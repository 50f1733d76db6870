"""FHIR R4 for the hospital's record: results and reviews pushed as ``DiagnosticReport``s, a read
API under ``/fhir/R4/``, and patients created from (and reconciled with) the record."""
