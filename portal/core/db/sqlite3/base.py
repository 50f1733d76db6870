"""SQLite as django-prometheus instruments it, with a ``flush`` that keeps the tables' triggers.

On SQLite a flush is ``DELETE FROM`` each table, which the audit log's append-only triggers refuse
(migration ``portal.0002``); PostgreSQL's flush is a TRUNCATE, which row triggers do not see. So
that ``manage.py flush`` and the test runs' resets work alike on both, a flush here drops the
triggers of the tables it empties and creates them again, unchanged, in the same transaction.
"""

from django.db.backends.sqlite3 import base as django_sqlite
from django_prometheus.db.backends.sqlite3 import base


class FlushKeepsTriggers(django_sqlite.DatabaseOperations):
    def sql_flush(self, style, tables, *, reset_sequences=False, allow_cascade=False):
        statements = super().sql_flush(
            style, tables, reset_sequences=reset_sequences, allow_cascade=allow_cascade
        )
        if not tables:
            return statements
        with self.connection.cursor() as cursor:
            cursor.execute("SELECT tbl_name, name, sql FROM sqlite_master WHERE type = 'trigger'")
            triggers = [(name, sql) for table, name, sql in cursor.fetchall() if table in tables]
        drops = [f"DROP TRIGGER {self.quote_name(name)};" for name, _sql in triggers]
        return [*drops, *statements, *(sql for _name, sql in triggers)]


class DatabaseWrapper(base.DatabaseWrapper):
    ops_class = FlushKeepsTriggers


DatabaseFeatures = base.DatabaseFeatures
