"""Agreement between the model and its reviewers, per model version, site and week, read from
pre-aggregated daily rows (``DailyAgreement``) so it stays fast at millions of diagnostics.

A row counts, for one day (the day the result was analysed, in ``TIME_ZONE``), model version and
site, the reviewed results with one model answer (its label, or inconclusive after the quality
gate: ``canary.model_answer``) and one review label. Rows are recomputed from the diagnostics,
never incremented, so a refresh run twice, or two at once, leaves the same rows:

- ``refresh_days`` recomputes a range of days (the beat task: today and yesterday, and the days
  of the results reviewed since its last run; ``refresh_model_watch`` command: any range);
- ``refresh_for_review`` recomputes the one slice a review changed (a task sent after it commits).

Agreement is computed over reviews with a definite label (healthy or anomaly): a reviewer's
"inconclusive" says the recording cannot tell, not what the truth is.
"""

import datetime as dt
from collections import defaultdict

from django.db import transaction
from django.db.models import Count, F, Q, QuerySet, Sum
from django.db.models.functions import TruncDate, TruncWeek
from django.utils import timezone

from diagnostics.canary import DEFINITE, model_answer
from diagnostics.models import DailyAgreement, Diagnostic, DiagnosticStatus, Label


def day_bounds(first: dt.date, last: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """[start of ``first``, start of the day after ``last``) in the current time zone."""
    zone = timezone.get_current_timezone()
    start = dt.datetime.combine(first, dt.time.min, tzinfo=zone)
    end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time.min, tzinfo=zone)
    return start, end


def _slice(first: dt.date, last: dt.date, *, version_id=None, site_id=None):
    start, end = day_bounds(first, last)
    diagnostics = Diagnostic.objects.filter(
        status=DiagnosticStatus.SUCCEEDED, model_version__isnull=False,
        finished_at__gte=start, finished_at__lt=end,
    ).exclude(review_label="")  # fmt: skip
    rows = DailyAgreement.objects.filter(day__gte=first, day__lte=last)
    if version_id is not None:
        diagnostics = diagnostics.filter(model_version_id=version_id)
        rows = rows.filter(model_version_id=version_id)
    if site_id is not None:
        diagnostics = diagnostics.filter(patient__site_id=site_id)
        rows = rows.filter(site_id=site_id)
    return diagnostics, rows


def refresh_days(first: dt.date, last: dt.date, *, version_id=None, site_id=None) -> int:
    """Recompute the rows of days ``first`` to ``last`` (optionally of one version and site);
    the number of rows they now hold."""
    diagnostics, rows = _slice(first, last, version_id=version_id, site_id=site_id)
    counted = (
        diagnostics.annotate(
            day=TruncDate("finished_at", tzinfo=timezone.get_current_timezone()),
            answer=model_answer(),
        )
        .values("day", "model_version_id", "patient__site_id", "answer", "review_label")
        .annotate(n=Count("pk"))
        .order_by()
    )
    fresh = [
        DailyAgreement(
            day=row["day"], model_version_id=row["model_version_id"],
            site_id=row["patient__site_id"], model_label=row["answer"],
            review_label=row["review_label"], count=row["n"],
        )
        for row in counted
    ]  # fmt: skip
    keys = {(r.day, r.model_version_id, r.site_id, r.model_label, r.review_label) for r in fresh}
    with transaction.atomic():
        stale = [
            pk
            for pk, *key in rows.values_list(
                "pk", "day", "model_version_id", "site_id", "model_label", "review_label"
            )
            if tuple(key) not in keys
        ]
        DailyAgreement.objects.filter(pk__in=stale).delete()
        DailyAgreement.objects.bulk_create(
            fresh, update_conflicts=True, update_fields=["count"],
            unique_fields=["day", "model_version", "site", "model_label", "review_label"],
        )  # fmt: skip
    return len(fresh)


def refresh_for_review(diagnostic_id: int) -> None:
    """The slice one reviewed result belongs to (its day, model version and site)."""
    diagnostic = (
        Diagnostic.objects.filter(pk=diagnostic_id, model_version__isnull=False)
        .select_related("patient")
        .only("finished_at", "model_version_id", "patient__site_id")
        .first()
    )
    if diagnostic is None or diagnostic.finished_at is None:
        return
    day = timezone.localdate(diagnostic.finished_at)
    refresh_days(
        day, day, version_id=diagnostic.model_version_id, site_id=diagnostic.patient.site_id
    )


def days_reviewed_since(moment: dt.datetime) -> set[dt.date]:
    """The analysis days of the results reviewed since ``moment`` (read along the review index)."""
    finished = Diagnostic.objects.filter(reviewed_at__gte=moment, finished_at__isnull=False)
    finished = finished.exclude(review_label="").values_list("finished_at", flat=True)
    return {timezone.localdate(moment) for moment in finished.iterator()}


# --- reading the rows -------------------------------------------------------------------------------


def confusion_matrix(rows: QuerySet[DailyAgreement]) -> dict:
    """{"labels", "cells": {(model label, review label): count}, "reviewed", "agreed",
    "agreement"} over ``rows`` (already filtered by version, site and period)."""
    cells = {
        (row["model_label"], row["review_label"]): row["n"]
        for row in rows.values("model_label", "review_label").annotate(n=Sum("count")).order_by()
    }
    definite = sum(n for (_, review), n in cells.items() if review in DEFINITE)
    agreed = sum(
        n for (model, review), n in cells.items() if review in DEFINITE and model == review
    )
    return {
        "labels": list(Label.values),
        "cells": cells,
        "reviewed": sum(cells.values()),
        "definite": definite,
        "agreed": agreed,
        "agreement": agreed / definite if definite else None,
    }


def weekly_agreement(rows: QuerySet[DailyAgreement]) -> dict[str, list[tuple[dt.date, int, int]]]:
    """Per model version (its name), the weeks (their Monday) with (reviewed with a definite
    label, agreed), oldest first."""
    weekly = (
        rows.filter(review_label__in=DEFINITE)
        .annotate(week=TruncWeek("day"))
        .values("week", "model_version__name", "model_version__version")
        .annotate(
            definite=Sum("count"),
            agreed=Sum("count", filter=Q(model_label=F("review_label"))),
        )
        .order_by("week")
    )
    series: dict[str, list] = defaultdict(list)
    for row in weekly:
        name = f"{row['model_version__name']} {row['model_version__version']}"
        week = row["week"].date() if isinstance(row["week"], dt.datetime) else row["week"]
        series[name].append((week, row["definite"], row["agreed"] or 0))
    return dict(series)
