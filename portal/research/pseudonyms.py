"""Research pseudonyms: the one place they are made.

A pseudonym is random: it is derived from nothing about the person or the record (not a hash of an
id, a name or a date), so it can be neither reversed nor recomputed, and only this database links
it to a patient. Each patient and each recording gets one the first time an export includes it and
keeps it for every later export, so researchers can join exports over time.

Values are 24 hex digits (96 random bits). The default path makes them in Python from the
operating system's CSPRNG (``portal.core.models.new_pseudonym``); on PostgreSQL one ``INSERT … SELECT``
makes them in the database from ``gen_random_uuid()`` (its strong random source), hashed to the same
width, which keeps the first export of a million rows from round-tripping a million ids.
"""

from django.db import IntegrityError, connection, transaction
from django.db.models import Model, QuerySet

from media_assets.models import RecordingPseudonym
from portal.core.models import ResearchPseudonym

BATCH = 5000
ATTEMPTS = 3


def ensure_pseudonyms(diagnostics: QuerySet) -> None:
    """Give every patient and every recording in ``diagnostics`` a pseudonym if it has none."""
    diagnostics = diagnostics.order_by()
    _ensure(
        ResearchPseudonym,
        "patient_id",
        diagnostics.filter(patient__pseudonym__isnull=True).values_list("patient_id"),
    )
    _ensure(
        RecordingPseudonym,
        "recording_id",
        diagnostics.filter(recording__research_pseudonym__isnull=True).values_list("recording_id"),
    )


def _ensure(model: type[Model], column: str, missing: QuerySet) -> None:
    missing = missing.distinct()
    in_database = connection.vendor == "postgresql"
    for _attempt in range(ATTEMPTS):
        try:
            with transaction.atomic():
                if in_database:
                    _insert_in_database(model, column, missing)
                else:
                    _insert_from_python(model, column, missing)
        except IntegrityError:
            continue  # two random values collided: draw again
        # bulk_create's ignore_conflicts also skips a value collision, so look again.
        if in_database or not missing.exists():
            return
    raise IntegrityError(f"could not create unique {model._meta.verbose_name} values")


def _insert_in_database(model: type[Model], column: str, missing: QuerySet) -> None:
    select, params = missing.query.sql_with_params()
    quote = connection.ops.quote_name
    # ON CONFLICT on the owner only: a concurrent export that made the same owner's pseudonym
    # first wins quietly, while a collision of two random values is an error and is retried.
    # Identifiers quoted, values passed as parameters: nothing here comes from a request.
    statement = (
        f"INSERT INTO {quote(model._meta.db_table)} ({quote(column)}, value, created_at) "  # noqa: S608
        "SELECT missing.owner, "
        "substr(encode(sha256(gen_random_uuid()::text::bytea), 'hex'), 1, 24), now() "
        f"FROM ({select}) AS missing(owner) "
        f"ON CONFLICT ({quote(column)}) DO NOTHING"
    )
    with connection.cursor() as cursor:
        cursor.execute(statement, params)


def _insert_from_python(model: type[Model], column: str, missing: QuerySet) -> None:
    owners = [owner for (owner,) in missing.all()]
    for start in range(0, len(owners), BATCH):
        model.objects.bulk_create(
            [model(**{column: owner}) for owner in owners[start : start + BATCH]],
            ignore_conflicts=True,
        )
