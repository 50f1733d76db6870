"""The audit log's SQLite triggers, on embedded databases that ran migration 0002 before it had
them.

0002 was given its SQLite triggers after it had first shipped (PostgreSQL's trigger was there
from the start), so an embedded database made before then recorded 0002 as applied without them
and let the application rewrite its audit log. This creates each trigger where it is missing and
leaves every other database as it is.
"""

import importlib

from django.db import migrations

append_only = importlib.import_module("portal.core.migrations.0001_squashed_0010")


def create_missing_triggers(apps, schema_editor):
    if schema_editor.connection.vendor != "sqlite":
        return
    for statement in append_only.SQLITE_CREATE:
        schema_editor.execute(
            statement.replace("CREATE TRIGGER", "CREATE TRIGGER IF NOT EXISTS", 1), params=None
        )


class Migration(migrations.Migration):
    dependencies = [("portal", "0009_search_terms_site_required")]

    # Backwards: the triggers stay, as 0002 (which drops them when it is undone) made them.
    operations = [migrations.RunPython(create_missing_triggers, migrations.RunPython.noop, elidable=True)]
