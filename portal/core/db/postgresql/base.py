"""PostgreSQL as django-prometheus instruments it, each statement within 65,535 parameters.

With server-side binding (``DATABASE_PREPARE_THRESHOLD``) a statement's parameters travel apart
from its text, and the protocol counts them in 16 bits: a ``bulk_create`` of a few thousand rows,
one statement by default, fails with "number of parameters must be between 0 and 65535". Django
splits bulk inserts, batched deletes and ``in_bulk`` by ``max_query_params``, which its PostgreSQL
backend leaves unset; here it is the protocol's limit, with client-side binding too, so that a
statement that works one way works the other.
"""

from django.db import models
from django.db.backends.postgresql import features as django_features
from django.db.backends.postgresql import operations as django_operations
from django_prometheus.db.backends.postgresql import base

MAX_QUERY_PARAMS = 65_535


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
