"""Domain failures, and the one table of what each surface answers to them.

A service raises a ``DomainError`` subclass: a stable ``code`` for programs, a plain sentence for
people, and a ``kind`` that says what sort of failure it is (the input is invalid, the object is
out of reach, it conflicts with the current state, a part is unavailable …). Exceptions carry no
HTTP status: ``ANSWERS`` below maps each kind once to the API's status, the pages' status and the
WebSocket close code, and every surface asks ``answer_for``.

``media_assets.audio`` is a plain package with no Django (and so none of this module); its
``AudioRejected`` failures carry the same ``code``, ``message`` and ``kind``, which is all
``answer_for`` reads.
"""

from dataclasses import dataclass
from enum import StrEnum


class Kind(StrEnum):
    INVALID = "invalid"
    FORBIDDEN = "forbidden"
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"
    TOO_LARGE = "too_large"
    UNSUPPORTED = "unsupported"
    RATE_LIMITED = "rate_limited"
    UNAVAILABLE = "unavailable"


@dataclass(frozen=True)
class Answer:
    http_status: int
    socket_close_code: int


ANSWERS: dict[Kind, Answer] = {
    Kind.INVALID: Answer(400, 4400),
    Kind.FORBIDDEN: Answer(403, 4403),
    Kind.NOT_FOUND: Answer(404, 4404),
    Kind.CONFLICT: Answer(409, 4409),
    Kind.TOO_LARGE: Answer(413, 4413),
    Kind.UNSUPPORTED: Answer(415, 4415),
    Kind.RATE_LIMITED: Answer(429, 4429),
    Kind.UNAVAILABLE: Answer(503, 4503),
}


class DomainError(Exception):
    """A failure the user can act on. Subclasses set ``code``, ``kind`` and ``default_message``."""

    code = "error"
    kind = Kind.INVALID
    default_message = "The request could not be completed."

    def __init__(self, message: str | None = None, *, code: str | None = None, **extra) -> None:
        self.message = message or self.default_message
        if code is not None:
            self.code = code
        self.extra = extra  # more fields for the API's error body, e.g. ``retry_after``
        super().__init__(self.message)


class Invalid(DomainError):
    code = "invalid"


class NotVisible(DomainError):
    """Missing, or out of the user's reach: the same answer for both, so nothing leaks."""

    code = "not_found"
    kind = Kind.NOT_FOUND

    def __init__(self, what: str = "Record") -> None:
        super().__init__(f"{what} not found.")


class Forbidden(DomainError):
    code = "permission_denied"
    kind = Kind.FORBIDDEN
    default_message = "You do not have permission to do this."


class Conflict(DomainError):
    code = "conflict"
    kind = Kind.CONFLICT


class Unavailable(DomainError):
    code = "unavailable"
    kind = Kind.UNAVAILABLE
    default_message = "This is not available right now. Please try again in a moment."


def is_domain_failure(exc: BaseException) -> bool:
    """A ``DomainError``, or a plain package's failure of the same shape (``AudioRejected``)."""
    return isinstance(exc, DomainError) or (
        isinstance(getattr(exc, "code", None), str)
        and isinstance(getattr(exc, "message", None), str)
        and getattr(exc, "kind", None) in ANSWERS
    )


def answer_for(exc: BaseException) -> Answer:
    return ANSWERS[Kind(exc.kind)]
