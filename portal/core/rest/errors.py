"""One error shape for the whole API: ``{"error": {"code": "...", "message": "..."}}``.

Domain failures (``portal.core.errors``) get the status their kind has in ``ANSWERS``; DRF's own
validation, authentication, permission and throttling errors and Django's 404 are mapped here too.
"""

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, JsonResponse
from rest_framework import exceptions
from rest_framework.response import Response

from portal.core.database import as_unavailable, mark_retryable
from portal.core.errors import answer_for, is_domain_failure


def error_body(code: str, message: str, **extra) -> dict:
    return {"error": {"code": code, "message": message, **extra}}


def error_response(status: int, code: str, message: str, **extra) -> JsonResponse:
    """For plain Django views and middleware that answer in the API's shape."""
    return JsonResponse(error_body(code, message, **extra), status=status)


def domain_failure_response(exc) -> Response:
    """A domain failure's status and body; its ``retry_after`` also as the header."""
    extra = getattr(exc, "extra", {})
    headers = {"Retry-After": str(extra["retry_after"])} if "retry_after" in extra else {}
    return Response(
        error_body(exc.code, exc.message, **extra),
        status=answer_for(exc).http_status,
        headers=headers,
    )


def _messages(detail) -> list[str]:
    """Every message in a DRF error detail (strings, lists and dicts of them, nested), flattened to
    plain sentences; ``str()`` of a list or dict would print ``ErrorDetail(string=...)`` reprs."""
    if isinstance(detail, dict):
        if "detail" in detail:  # simplejwt's shape: {"detail", "code", "messages"}
            return _messages(detail["detail"])
        return [
            message if key == "non_field_errors" else f"{key}: {message}"
            for key, value in detail.items()
            for message in _messages(value)
        ]
    if isinstance(detail, list | tuple):
        return [message for item in detail for message in _messages(item)]
    return [_sentence(str(detail))]


def _sentence(text: str) -> str:
    text = text.strip()
    return text if not text or text[-1] in ".!?" else f"{text}."


def _validation_message(detail) -> tuple[str, dict]:
    if isinstance(detail, dict) and "detail" not in detail:
        fields = {key: _messages(value) for key, value in detail.items()}
        first_field, messages = next(iter(fields.items()))
        label = "" if first_field == "non_field_errors" else f"{first_field}: "
        return f"{label}{messages[0]}" if messages else "Invalid request.", fields
    messages = _messages(detail)
    return messages[0] if messages else "Invalid request.", {}


_DRF_CODES = {
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.AuthenticationFailed: "authentication_failed",
    exceptions.PermissionDenied: "permission_denied",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.Throttled: "throttled",
    exceptions.ParseError: "malformed_request",
}


def exception_handler(exc, context):
    unavailable = as_unavailable(exc)
    if unavailable is not None:
        return mark_retryable(domain_failure_response(unavailable))
    if is_domain_failure(exc):
        return domain_failure_response(exc)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound("Not found.")
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    if not isinstance(exc, exceptions.APIException):
        return None  # a bug: Django's 500 handling takes over
    headers = {}
    if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
        headers["Retry-After"] = str(int(exc.wait) + 1)
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    if isinstance(exc, exceptions.ValidationError):
        message, fields = _validation_message(exc.detail)
        body = (
            error_body("invalid", message, fields=fields)
            if fields
            else error_body("invalid", message)
        )
    else:
        # An exception of ours may name its own code (``portal.core.rest.tokens``: "otp_required").
        code = getattr(exc, "error_code", None) or next(
            (c for cls, c in _DRF_CODES.items() if isinstance(exc, cls)), "error"
        )
        messages = _messages(exc.detail)
        body = error_body(code, messages[0] if messages else "The request was refused.")
    return Response(body, status=exc.status_code, headers=headers)
