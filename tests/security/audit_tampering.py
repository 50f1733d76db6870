"""Run with ``manage.py shell -c``: write one audit event, try every way round the ORM's guard to
change or delete it, and print what each attempt did as one JSON line (``tampering: {...}``)."""

import json

from django.db import DatabaseError, connection, transaction
from django.db.models import QuerySet

from portal.core.models import AuditEvent


def attempts(event):
    pk = event.pk
    return {
        "base_manager_update": lambda: AuditEvent._base_manager.filter(pk=pk).update(action="x"),
        "plain_queryset_update": lambda: QuerySet(AuditEvent).filter(pk=pk).update(action="x"),
        "raw_delete": lambda: QuerySet(AuditEvent).filter(pk=pk)._raw_delete(connection.alias),
        "sql_update": lambda: connection.cursor().execute(
            "UPDATE portal_auditevent SET action = 'x' WHERE id = %s", [pk]
        ),
        "sql_delete": lambda: connection.cursor().execute(
            "DELETE FROM portal_auditevent WHERE id = %s", [pk]
        ),
    }


def outcome(event, attempt) -> str:
    try:
        with transaction.atomic():
            attempt()
    except DatabaseError:
        pass
    rows = list(AuditEvent.objects.filter(pk=event.pk).values_list("action", flat=True))
    return "unchanged" if rows == ["test.written"] else f"changed: {rows}"


def run() -> dict[str, str]:
    event = AuditEvent.objects.create(action="test.written")
    return {name: outcome(event, attempt) for name, attempt in attempts(event).items()}


if __name__ in ("__main__", "django.core.management.commands.shell"):
    print("tampering:", json.dumps(run()))
