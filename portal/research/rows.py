"""The research row: what a de-identified export holds, defined once, as database expressions.

Every column is computed by the database from one query, so the same SQL feeds both ways of reading
it (PostgreSQL's ``COPY`` and a plain cursor) and no identifier ever reaches Python on the way out.
What a Safe Harbor row holds, and why it is allowed:

- ``patient_id``, ``recording_id``: random pseudonyms from their own tables (``pseudonyms``), not
  derived from anything about the person or the record;
- ``sex``; ``age_band``: age at the recording in 5-year bands, everyone 90 or older pooled as
  ``90+`` (Safe Harbor's rule for ages), never the birth date;
- ``site``: the clinic's short code; ``kind``, ``duration_s`` and the quality measures;
- symptoms from their closed vocabulary (``diagnostics.symptoms``: flags, a number of days and
  known conditions as one flag per condition), never free text;
- ``year`` of the recording (the only element of a date Safe Harbor keeps);
- the model's ``label``, ``confidence`` and ``model_version``, what that model was trained on
  (``model_trained_on``: ``synthetic`` or the data set's name) and ``model_synthetic``, so a result
  of a demonstration model is never read as a real one's; and the clinician's ``reviewed_label``
  (not the note, not the reviewer).

The limited data set (only with a data-use agreement) adds ``recorded_on`` and ``reviewed_on`` to
the day and ``audio_url``, the endpoint that issues a short-lived link to the recording.
Never exported, in either: names, birth dates, external ids, notes, user names, storage keys,
database ids, times of day.
"""

from dataclasses import dataclass

from django.db.models import (
    Case,
    CharField,
    Expression,
    F,
    FloatField,
    IntegerField,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import (
    Cast,
    Concat,
    ExtractYear,
    Least,
    NullIf,
    RTrim,
    Substr,
    TruncDate,
)
from django.db.models.lookups import LessThan
from django.urls import reverse

from diagnostics.symptoms import KNOWN_CONDITIONS
from portal.research.expressions import AgeInYears, JsonListHas

RECORDED_AT = "recording__created_at"
BIRTH_DATE = "patient__birth_date"


@dataclass(frozen=True)
class Column:
    """One column of the export: its name, how the database computes it, and its type.

    ``kind`` is one of ``str``, ``int``, ``float``, ``bool`` (computed as the text ``true`` or
    ``false``, so that CSV reads the same from every database) and ``date``.
    """

    name: str
    expression: Expression
    kind: str


def _flag(condition_true, condition_false) -> Case:
    """``true``/``false`` from two conditions, NULL when neither holds (not recorded)."""
    return Case(
        When(condition_true, then=Value("true")),
        When(condition_false, then=Value("false")),
        default=None,
        output_field=CharField(),
    )


def _json_flag(path: str) -> Case:
    return _flag(Q(**{path: True}), Q(**{path: False}))


# Fixed-width labels, so that the band is one substring of this text: no repeated arithmetic.
AGE_BANDS = [f"{start}-{start + 4}" for start in range(0, 90, 5)] + ["90+"]
_BAND_WIDTH = 5
_BAND_TABLE = "".join(band.ljust(_BAND_WIDTH) for band in AGE_BANDS)


def _age_band() -> Case:
    """5-year bands of the age at the recording; 90 and over pooled (Safe Harbor's rule)."""
    age = AgeInYears(TruncDate(RECORDED_AT), F(BIRTH_DATE))
    band = Least(age / Value(5), Value(len(AGE_BANDS) - 1))
    return Case(
        When(LessThan(age, Value(0)), then=None),
        default=RTrim(Substr(Value(_BAND_TABLE), band * Value(_BAND_WIDTH) + 1, _BAND_WIDTH)),
        output_field=CharField(),
    )


def _json_text(field: str, key: str) -> KeyTextTransform:
    # KeyTextTransform, not KT(): KT does not follow relations ("recording__quality__…").
    return KeyTextTransform(key, field)


def _quality(key: str) -> Cast:
    return Cast(_json_text("recording__quality", key), FloatField())


def _condition(name: str) -> Case:
    """Whether a known condition was recorded: NULL when the conditions were not asked about."""
    return Case(
        When(Q(symptoms__known_conditions__isnull=True), then=None),
        When(JsonListHas(F("symptoms"), key="known_conditions", item=name), then=Value("true")),
        default=Value("false"),
        output_field=CharField(),
    )


def _model_version() -> Case:
    return Case(
        When(model_version__isnull=True, then=None),
        default=Concat(F("model_version__name"), Value(" "), F("model_version__version")),
        output_field=CharField(),
    )


def _model_synthetic() -> Case:
    """``true`` for a model trained on synthetic sounds (``ModelVersion.is_synthetic``)."""
    return _flag(
        Q(model_version__trained_on="synthetic"),
        Q(model_version__isnull=False) & ~Q(model_version__trained_on="synthetic"),
    )


def _audio_url() -> Concat:
    prefix, suffix = reverse("research-audio-link", args=["PSEUDONYM"]).split("PSEUDONYM")
    return Concat(
        Value(prefix), F("recording__research_pseudonym__value"), Value(suffix),
        output_field=CharField(),
    )  # fmt: skip


def safe_harbor_columns() -> list[Column]:
    columns = [
        Column("patient_id", F("patient__pseudonym__value"), "str"),
        Column("recording_id", F("recording__research_pseudonym__value"), "str"),
        Column("sex", F("patient__sex"), "str"),
        Column("age_band", _age_band(), "str"),
        Column("site", F("patient__site__code"), "str"),
        Column("kind", F("recording__kind"), "str"),
        Column("duration_s", F("recording__duration_s"), "float"),
        Column("clipping_ratio", _quality("clipping_ratio"), "float"),
        Column("silence_ratio", _quality("silence_ratio"), "float"),
        Column("loudness_dbfs", _quality("loudness_dbfs"), "float"),
        Column("peak_dbfs", _quality("peak_dbfs"), "float"),
        Column("cough_score", _quality("cough_score"), "float"),
        Column("cough_detected", _json_flag("recording__quality__cough_detected"), "bool"),
        Column("fever", _json_flag("symptoms__fever"), "bool"),
        Column("shortness_of_breath", _json_flag("symptoms__shortness_of_breath"), "bool"),
        Column("cough_days", Cast(_json_text("symptoms", "cough_days"), IntegerField()), "int"),
    ]
    columns += [Column(f"condition_{name}", _condition(name), "bool") for name in KNOWN_CONDITIONS]
    columns += [
        Column("year", ExtractYear(RECORDED_AT), "int"),
        Column("label", NullIf(F("label"), Value("")), "str"),
        Column("confidence", F("confidence"), "float"),
        Column("model_version", _model_version(), "str"),
        Column("model_trained_on", F("model_version__trained_on"), "str"),
        Column("model_synthetic", _model_synthetic(), "bool"),
        Column("reviewed_label", NullIf(F("review_label"), Value("")), "str"),
    ]
    return columns


def limited_columns() -> list[Column]:
    return [
        *safe_harbor_columns(),
        Column("recorded_on", TruncDate(RECORDED_AT), "date"),
        Column("reviewed_on", TruncDate("reviewed_at"), "date"),
        Column("audio_url", _audio_url(), "str"),
    ]


def alias(column: Column) -> str:
    # Annotation names must not collide with the model's fields ("label", "patient", ...).
    return f"research_{column.name}"


def research_rows(diagnostics: QuerySet, columns: list[Column]) -> QuerySet:
    """``diagnostics`` as tuples of ``columns``, in no particular order.

    Unordered on purpose: an ORDER BY makes the database sort every row (on disk, for a large
    export) before it can send the first one; without it rows leave as they are joined.
    """
    annotated = diagnostics.annotate(**{alias(c): c.expression for c in columns})
    return annotated.order_by().values_list(*(alias(c) for c in columns))
