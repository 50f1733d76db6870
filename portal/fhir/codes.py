"""The product's own FHIR code systems and identifier systems.

The product has no right to borrow clinical codes (SNOMED CT, LOINC) for what its model says, so
every code it sends is from a code system of its own, documented in docs/integration.md. The URIs
are names, not addresses that must answer; they are the same at every installation. Displays are
the code systems' own (English), not the page's language: they are data, not interface.
"""

PRODUCT = "https://respiratory-portal.example/fhir"

# What a finding says: the model's label, or a clinician's reviewed one.
FINDING = f"{PRODUCT}/CodeSystem/respiratory-finding"
FINDINGS = {
    "healthy": "Likely healthy",
    "anomaly": "Possible respiratory anomaly",
    "inconclusive": "Inconclusive",
}

# What an Observation or a report is, and the parts of an Observation.
OBSERVATION_KIND = f"{PRODUCT}/CodeSystem/observation-kind"
KINDS = {
    "audio-analysis": "AI analysis of a cough or breathing recording",
    "model-finding": "Finding of the AI model",
    "review-decision": "Clinician's review of the AI finding",
    "probability": "Model probability of the finding",
    "model-label": "Label the model gave before the quality gate",
    "quality-gate": "Why the recording cannot carry a result",
    "model-artifact": "Stored artifact of the model version",
    "training-data": "What the model was trained on",
}

# Identifier systems of the product's own records (the value is the record's id here).
IDENTIFIER = f"{PRODUCT}/NamingSystem"
REPORT_ID = f"{IDENTIFIER}/diagnostic-report"
RESULT_ID = f"{IDENTIFIER}/model-finding"
REVIEW_ID = f"{IDENTIFIER}/review-decision"
DEVICE_ID = f"{IDENTIFIER}/model-version"
MEDIA_ID = f"{IDENTIFIER}/recording"
PATIENT_ID = f"{IDENTIFIER}/patient"
USER_ID = f"{IDENTIFIER}/user"

UCUM = "http://unitsofmeasure.org"  # units, not clinical codes: "1" is a plain number


def coding(system: str, code: str, table: dict) -> dict:
    return {"system": system, "code": code, "display": table[code]}


def concept(system: str, code: str, table: dict) -> dict:
    return {"coding": [coding(system, code, table)], "text": table[code]}


def identifier(system: str, value) -> dict:
    return {"system": system, "value": str(value)}


def token(ident: dict) -> str:
    """The ``system|value`` search token of an identifier."""
    return f"{ident['system']}|{ident['value']}"
