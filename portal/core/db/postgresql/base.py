"""PostgreSQL as django-prometheus instruments it, each statement within 65,535 parameters.

With server-side binding (``DATABASE_PREPARE_THRESHOLD``) a statement's parameters travel apart
from its text, and the protocol counts them in 16 bits: a ``bulk_create`` of a few thousand rows,
one statement by default, fails with "number of parameters must be between 0 and 65535". Django
splits bulk inserts, batched deletes and ``in_bulk`` by ``max_query_params``, which its PostgreSQL
backend leaves unset; here it is the protocol's limit, with client-side binding too, so that a
statement that works one way works the other.
"""

import psycopg
from django.db import models
from django.db.backends.postgresql import features as django_features
from django.db.backends.postgresql import operations as django_operations
from django_prometheus.db.backends.postgresql import base

from portal.core import database

MAX_QUERY_PARAMS = 65_535
PROBE_CONNECT_TIMEOUT_S = 2  # libpq's shortest


class DatabaseFeatures(django_features.DatabaseFeatures):
    max_query_params = MAX_QUERY_PARAMS


class DatabaseOperations(django_operations.DatabaseOperations):
    def bulk_batch_size(self, fields, objs):
        columns = sum(
            len(field.fields) if isinstance(field, models.CompositePrimaryKey) else 1
            for field in fields
        )
        return max(1, MAX_QUERY_PARAMS // columns) if columns else len(objs)


class DatabaseWrapper(base.DatabaseWrapper):
    features_class = DatabaseFeatures
    ops_class = DatabaseOperations

    def get_new_connection(self, conn_params):
        """A connection from the pool, through the database's circuit breaker
        (``portal.core.database``): while the database is away, waiting for the pool's timeout at
        most once a cool-down instead of at every connection."""
        if self.pool is None:
            return super().get_new_connection(conn_params)
        with database.new_connection(answers=lambda: self._answers(conn_params)):
            return super().get_new_connection(conn_params)

    def _answers(self, conn_params) -> bool:
        """Whether a connection made now, outside the pool, succeeds."""
        try:
            probe = self.Database.connect(
                **{**conn_params, "connect_timeout": PROBE_CONNECT_TIMEOUT_S}
            )
        except psycopg.Error:
            return False
        probe.close()
        return True
