"""The OpenAPI document's shared parts: the error shape, on every operation that can answer it.

drf-spectacular documents what each view returns on success; the errors come from one place
(``portal.core.rest.errors``), so they are added here, once, as a postprocessing hook.
"""

ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "error": {
            "type": "object",
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "fields": {
                    "type": "object",
                    "additionalProperties": {"type": "array", "items": {"type": "string"}},
                    "description": "Validation errors, by field.",
                },
            },
            "required": ["code", "message"],
        }
    },
    "required": ["error"],
}

COMMON_ERRORS = {
    "400": "The request is not valid (validation errors by field).",
    "401": "No valid credentials (JWT bearer token or session).",
    "403": "The user's role does not allow this.",
    "404": "No such object among those the user may see.",
    "429": "Too many requests: wait the seconds in Retry-After.",
}
WRITE_ERRORS = {
    "409": "The object's state does not allow this.",
    "413": "The request body is too large.",
    "415": "Unsupported media type.",
}


def _error_response(description: str, status: str) -> dict:
    response = {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }
    if status == "429":
        response["headers"] = {
            "Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait."}
        }
    return response


def add_error_responses(result, generator, request, public):
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    for operations in result.get("paths", {}).values():
        for method, operation in operations.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            errors = dict(COMMON_ERRORS)
            if method in {"post", "put", "patch"}:
                errors.update(WRITE_ERRORS)
            for status, description in errors.items():
                operation["responses"].setdefault(status, _error_response(description, status))
    return result
