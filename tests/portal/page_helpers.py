"""Shared steps of the page tests: reading rendered pages and the audit log."""

import re

from portal.core.models import AuditEvent


def text_of(response) -> str:
    """The page's visible text, tags stripped and spaces collapsed, for readable assertions."""
    html = response.content.decode()
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def events(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("id"))
