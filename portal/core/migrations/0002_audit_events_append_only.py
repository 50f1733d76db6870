"""Reject UPDATE and DELETE of audit events in the database itself, on every database the product
runs on, so that not even raw SQL from the application (or a queryset that bypasses the model's
guard) can rewrite the log.

PostgreSQL: a trigger function; TRUNCATE stays possible for the database owner, which test runs
and ``manage.py flush`` use to reset tables. SQLite (the embedded default): a trigger per
statement kind; ``portal.core.db.sqlite3`` lets ``flush`` (the owner's reset there) lift and
restore them. Anyone who can write the SQLite file can drop a trigger: the guard protects the log
from the application, not from the machine's administrator.
"""

from django.db import migrations

POSTGRESQL_CREATE = [
    """
CREATE OR REPLACE FUNCTION portal_auditevent_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit events are append-only (% rejected)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER portal_auditevent_append_only
    BEFORE UPDATE OR DELETE ON portal_auditevent
    FOR EACH ROW EXECUTE FUNCTION portal_auditevent_append_only();
"""
]

POSTGRESQL_DROP = [
    """
DROP TRIGGER IF EXISTS portal_auditevent_append_only ON portal_auditevent;
DROP FUNCTION IF EXISTS portal_auditevent_append_only();
"""
]

# SQLite runs one statement per execute.
SQLITE_CREATE = [
    f"""
CREATE TRIGGER portal_auditevent_no_{operation.lower()}
    BEFORE {operation} ON portal_auditevent
BEGIN
    SELECT RAISE(ABORT, 'audit events are append-only ({operation} rejected)');
END;
"""
    for operation in ("UPDATE", "DELETE")
]

SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS portal_auditevent_no_update;",
    "DROP TRIGGER IF EXISTS portal_auditevent_no_delete;",
]


def _statements(postgresql, sqlite):
    def run(apps, schema_editor):
        vendor = schema_editor.connection.vendor
        for statement in {"postgresql": postgresql, "sqlite": sqlite}.get(vendor, []):
            schema_editor.execute(statement, params=None)

    return run


class Migration(migrations.Migration):
    dependencies = [("portal", "0001_initial")]

    operations = [
        migrations.RunPython(
            _statements(POSTGRESQL_CREATE, SQLITE_CREATE),
            _statements(POSTGRESQL_DROP, SQLITE_DROP),
        )
    ]
