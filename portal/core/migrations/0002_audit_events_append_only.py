"""Reject UPDATE and DELETE of audit events in the database itself, on every database the product
runs on, so that not even raw SQL from the application (or a queryset that bypasses the model's
guard) can rewrite the log.

PostgreSQL: a trigger function; TRUNCATE stays possible for the database owner, which test runs
and ``manage.py flush`` use to reset tables. SQLite (the embedded default): a trigger per
statement kind; ``portal.core.db.sqlite3`` lets ``flush`` (the owner's reset there) lift and
restore them. Anyone who can write the SQLite file can drop a trigger: the guard protects the log
from the application, not from the machine's administrator.

The statements are kept in ``0001_squashed_0010``, which new databases apply instead.
"""

import importlib

from django.db import migrations

statements = importlib.import_module("portal.core.migrations.0001_squashed_0010")


class Migration(migrations.Migration):
    dependencies = [("portal", "0001_initial")]

    operations = [migrations.RunPython(statements.create_triggers, statements.drop_triggers)]
