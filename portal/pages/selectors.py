"""Reads behind the clinician pages, each scoped by ``portal.core.permissions`` and each a fixed number of
queries whatever the number of rows (related rows are joined or prefetched, counts are subqueries).

Lists page by keyset (``after``/``before`` an id), never by offset, and count at most
``COUNT_CAP + 1`` rows, so the patient list stays fast at a million patients. Cursors are ids, not
sort keys: a sort key is a patient's name, and names do not belong in URLs.

The pages sit on top of every app (as the root URLconf does), so this module reads recordings and
diagnostics directly.
"""

import datetime
from dataclasses import dataclass, field
from functools import cached_property

from django.core.cache import caches
from django.db.models import (
    Count,
    Exists,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
)
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from diagnostics import live
from diagnostics.models import Diagnostic, DiagnosticStatus
from media_assets.models import Recording, RecordingStatus
from portal.core import permissions
from portal.core.models import AuditEvent, Patient, Site
from recommender.selectors import priority_page_ids

PAGE_SIZE = 25
TIMELINE_SIZE = 20
COUNT_CAP = 1000
BADGE_CAP = 99  # the navigation's count: "99+"
CHART_DAYS = 14


@dataclass
class Page:
    """One page of a keyset-paginated list."""

    items: list
    next_after: int | None = None
    previous_before: int | None = None
    count: int = 0
    count_capped: bool = False


@dataclass
class Workspace:
    """The user's clinical sites and the one chosen in the site switcher (None: all of them)."""

    user: object
    sites: list[Site]
    site: Site | None = None

    def _scoped(self, queryset: QuerySet, path: str) -> QuerySet:
        return queryset.filter(**{path: self.site.pk}) if self.site else queryset

    def patients(self) -> QuerySet[Patient]:
        return self._scoped(permissions.patients_for(self.user), "site_id")

    def recordings(self) -> QuerySet[Recording]:
        return self._scoped(
            permissions.restrict(Recording.objects.all(), self.user), "patient__site_id"
        )

    def diagnostics(self) -> QuerySet[Diagnostic]:
        return self._scoped(
            permissions.restrict(Diagnostic.objects.all(), self.user), "patient__site_id"
        )

    @property
    def site_ids(self) -> list[int]:
        """The sites in view: the one chosen, or all of the user's."""
        return [self.site.pk] if self.site else [site.pk for site in self.sites]

    @cached_property
    def review_count(self) -> tuple[int, bool]:
        """Results waiting for review, capped: (count, more than the cap)."""
        return capped_count(awaiting_review(self.diagnostics()))

    @cached_property
    def review_badge(self) -> tuple[int, bool]:
        """The navigation's count of results waiting for review, shown as "99+" past
        ``BADGE_CAP``: every clinical page shows it, so it reads at most a tenth of the rows
        ``review_count`` does, and nothing where the page has counted them already."""
        if "review_count" in self.__dict__:
            count, capped = self.review_count
            return (BADGE_CAP, True) if count > BADGE_CAP else (count, capped)
        return capped_count(awaiting_review(self.diagnostics()), cap=BADGE_CAP)


def capped_count(queryset: QuerySet, *, cap: int | None = None) -> tuple[int, bool]:
    """COUNT over at most ``cap`` (``COUNT_CAP``) + 1 rows: one query that stays cheap on any
    table size."""
    cap = COUNT_CAP if cap is None else cap
    count = queryset.order_by()[: cap + 1].count()
    return min(count, cap), count > cap


def awaiting_review(diagnostics: QuerySet[Diagnostic]) -> QuerySet[Diagnostic]:
    return diagnostics.filter(status=DiagnosticStatus.SUCCEEDED, review_label="")


def _keyset_page(queryset, *, keys: tuple[str, str], after, before, size) -> Page:
    """Page ``queryset`` ordered by ``keys`` (a sort column, then ``id``), from a cursor id.

    The cursor row's sort value is read in a subquery of the same (scoped) queryset, so a page is
    one query and a cursor outside the user's reach simply matches nothing. The ``>=`` beside the
    tie-break is the index's range bound: without it the database would read the index from the
    start and filter up to the cursor.
    """
    column, _ = keys
    if before:
        cursor = Subquery(queryset.filter(pk=before).values(column)[:1])
        rows = list(
            queryset.filter(Q(**{f"{column}__lte": cursor}),
                            Q(**{f"{column}__lt": cursor}) | Q(**{column: cursor, "id__lt": before}))
            .order_by(f"-{column}", "-id")[: size + 1]
        )  # fmt: skip
        return _page_around(list(reversed(rows[:size])), more=len(rows) > size, after=after,
                            before=before)  # fmt: skip
    if after:
        cursor = Subquery(queryset.filter(pk=after).values(column)[:1])
        queryset = queryset.filter(
            Q(**{f"{column}__gte": cursor}),
            Q(**{f"{column}__gt": cursor}) | Q(**{column: cursor, "id__gt": after}),
        )
    rows = list(queryset.order_by(column, "id")[: size + 1])
    return _page_around(rows[:size], more=len(rows) > size, after=after, before=before)


def _page_around(items: list, *, more: bool, after, before) -> Page:
    """A page of ``items`` read after the cursor ``after`` or before ``before`` (or from the
    start), where ``more`` says whether further rows lie beyond it in the direction read."""
    if before:
        return Page(items=items, next_after=items[-1].pk if items else None,
                    previous_before=items[0].pk if more and items else None)  # fmt: skip
    return Page(items=items, next_after=items[-1].pk if more else None,
                previous_before=items[0].pk if after and items else None)  # fmt: skip


# --- Patients --------------------------------------------------------------------------------


def _to_review_count():
    waiting = (
        Diagnostic.objects.filter(
            patient=OuterRef("pk"), status=DiagnosticStatus.SUCCEEDED, review_label=""
        )
        .order_by()
        .values("patient")
        .annotate(n=Count("id"))
        .values("n")
    )
    return Coalesce(Subquery(waiting, output_field=IntegerField()), 0)


def patient_list(
    workspace: Workspace, *, query="", consent=None, to_review=False, after=None, before=None
) -> Page:
    patients = workspace.patients().search(query, site_ids=workspace.site_ids)
    if consent is not None:
        patients = patients.filter(research_consent=consent)
    if to_review:
        patients = patients.filter(
            Exists(awaiting_review(Diagnostic.objects.filter(patient=OuterRef("pk"))))
        )
    count, capped = capped_count(patients)
    page = _keyset_page(
        patients.select_related("site").annotate(to_review=_to_review_count()),
        keys=("search_name", "id"), after=after, before=before, size=PAGE_SIZE,
    )  # fmt: skip
    page.count, page.count_capped = count, capped
    return page


# --- One patient's timeline ------------------------------------------------------------------


def diagnostics_with_details(diagnostics: QuerySet[Diagnostic]) -> QuerySet[Diagnostic]:
    """What every rendering of a diagnostic needs, in the same query (the waiting ones' queue
    positions come after, from ``live.annotate_queue_positions``)."""
    return diagnostics.select_related("model_version", "reviewed_by").defer(
        "embedding"  # the model's vector: large, and never shown
    )


def patient_timeline(patient: Patient, *, before=None) -> Page:
    """The patient's stored recordings, newest first, each with its diagnostics (two queries)."""
    recordings = Recording.objects.filter(
        patient=patient, status=RecordingStatus.STORED
    ).prefetch_related(
        Prefetch(
            "diagnostics",
            queryset=diagnostics_with_details(Diagnostic.objects.all()).order_by(
                "-queued_at", "-id"
            ),
        )
    )
    if before:
        cursor = Subquery(recordings.filter(pk=before).values("created_at")[:1])
        recordings = recordings.filter(
            Q(created_at__lt=cursor) | Q(created_at=cursor, id__lt=before)
        )
    rows = list(recordings.order_by("-created_at", "-id")[: TIMELINE_SIZE + 1])
    items = rows[:TIMELINE_SIZE]
    live.annotate_queue_positions(d for recording in items for d in recording.diagnostics.all())
    older = items[-1].pk if len(rows) > TIMELINE_SIZE else None
    return Page(items=items, next_after=older)


def visible_diagnostic(user, pk: int, *, queue_position: bool = True) -> Diagnostic:
    """The diagnostic with what its page renders, or ``NotVisible``. ``queue_position=False``
    leaves a waiting one's place in the queue unread, for an answer that does not show it
    (``live.annotate_queue_positions`` reads it after)."""
    diagnostic = permissions.visible(
        diagnostics_with_details(Diagnostic.objects.select_related("recording", "patient__site")),
        user,
        pk,
    )
    if queue_position:
        live.annotate_queue_positions([diagnostic])
    return diagnostic


# --- Review queue and home -------------------------------------------------------------------


REVIEW_ORDERS = ("priority", "oldest")


def review_queue(workspace: Workspace, *, order="priority", after=None, before=None) -> Page:
    """Results waiting for review: by the recommender's review priority (``recommender.priority``:
    uncertainty, disagreement with similar cases, waiting time), or oldest first."""
    waiting = (
        awaiting_review(workspace.diagnostics())
        .select_related("patient__site", "recording", "model_version", "review_priority")
        .defer("embedding")
    )
    if order == "priority":
        ids, more = priority_page_ids(workspace.diagnostics(), after=after, before=before,
                                      size=PAGE_SIZE)  # fmt: skip
        rows = waiting.in_bulk(ids)
        page = _page_around(
            [rows[pk] for pk in ids if pk in rows], more=more, after=after, before=before
        )
    else:
        page = _keyset_page(waiting, keys=("queued_at", "id"), after=after, before=before,
                            size=PAGE_SIZE)  # fmt: skip
    page.count, page.count_capped = workspace.review_count
    return page


WORKLIST_SIZE = 10
RECENT_PATIENTS = 8


@dataclass
class HomeSummary:
    recordings_today: int
    to_review: tuple[int, bool]
    failed_count: tuple[int, bool]
    failed_latest: list
    chart: list = field(default_factory=list)
    results_today: list = field(default_factory=list)
    recent_patients: list = field(default_factory=list)


def home_summary(workspace: Workspace, *, now=None) -> HomeSummary:
    now = now or timezone.now()
    start_of_today = _start_of(timezone.localtime(now).date())
    failed = workspace.diagnostics().filter(status=DiagnosticStatus.FAILED)
    stored = workspace.recordings().filter(status=RecordingStatus.STORED)
    recordings_today = _split_at_settled(
        workspace, "recordings-stored", since=start_of_today, now=now,
        read=lambda since, before: _in_span(stored, "created_at", since, before).count(),
    )  # fmt: skip
    return HomeSummary(
        recordings_today=sum(recordings_today),
        to_review=workspace.review_count,  # counted here, the navigation's badge reuses it
        failed_count=capped_count(failed),
        failed_latest=list(
            failed.select_related("patient", "recording").order_by("-queued_at", "-id")[:5]
        ),
        chart=results_by_day(workspace, now=now),
        # Finished results: no queue position to work out, no reviewer to name in the list.
        results_today=list(
            workspace.diagnostics()
            .filter(status=DiagnosticStatus.SUCCEEDED, finished_at__gte=start_of_today)
            .select_related("patient", "recording", "model_version")
            .defer("embedding")
            .order_by("-finished_at", "-id")[:WORKLIST_SIZE]
        ),
        recent_patients=recently_seen_patients(workspace),
    )


def recently_seen_patients(workspace: Workspace, *, size=RECENT_PATIENTS) -> list[Patient]:
    """The patients whose page this user opened last, newest first: two queries, reading the
    user's own latest audit events (an index on actor and time), never every patient."""
    seen = (
        AuditEvent.objects.filter(actor=workspace.user, action="patient.viewed")
        .exclude(patient=None)
        .order_by("-at", "-id")
        .values_list("patient_id", flat=True)[: size * 5]
    )
    order = list(dict.fromkeys(seen))[: size * 2]
    patients = workspace.patients().in_bulk(order)
    return [patients[pk] for pk in order if pk in patients][:size]


PAST_DAYS_CACHE_S = 300
SETTLED_S = 15


def results_by_day(workspace: Workspace, *, now=None, days=CHART_DAYS) -> list[dict]:
    """Finished results per local day and label for the last ``days`` days, oldest day first.

    The days before today change only when an old result is erased or analysed again, so they are
    kept in each process's memory for ``PAST_DAYS_CACHE_S``, per set of sites and day: on a busy
    shift every clinician of a site opens home many times an hour, and the 13 past days are most
    of the query's rows. Today is read as home's other counts of today are
    (``_split_at_settled``): its settled part from memory, its last seconds from the database.
    """
    now = now or timezone.now()
    today = timezone.localtime(now).date()
    first_day = today - datetime.timedelta(days=days - 1)
    start_of_today = _start_of(today)
    past = _kept(
        f"results-by-day:{first_day}:{today}:{_sites_key(workspace)}", PAST_DAYS_CACHE_S,
        lambda: _counts_by_day(workspace, since=_start_of(first_day), before=start_of_today),
    )  # fmt: skip
    counts = {day: dict(labels) for day, labels in past.items()}
    today_parts = _split_at_settled(
        workspace, "results-by-day-today", since=start_of_today, now=now,
        read=lambda since, before: _counts_by_day(workspace, since=since, before=before),
    )  # fmt: skip
    for part in today_parts:
        for day, labels in part.items():
            merged = counts.setdefault(day, {})
            for label, n in labels.items():
                merged[label] = merged.get(label, 0) + n
    return [
        {"day": day, "counts": counts.get(day, {})}
        for day in (first_day + datetime.timedelta(days=i) for i in range(days))
    ]


def settled_cut(now: datetime.datetime) -> datetime.datetime:
    """The start of the ``SETTLED_S`` window before the one ``now`` is in: between ``SETTLED_S``
    and twice that before ``now``, and the same for every request of a window."""
    seconds = int(now.timestamp())
    return datetime.datetime.fromtimestamp(
        seconds - seconds % SETTLED_S - SETTLED_S, tz=datetime.UTC
    )


def _split_at_settled(workspace: Workspace, name: str, *, since, now, read) -> list:
    """``read(since, before)`` of today's rows in two parts, split at ``settled_cut(now)``.

    Home counts today's rows of the user's sites on every visit, and a count reads every row it
    counts: by the end of a busy day that is most of the page's database time, and it grows with
    the day. Rows stamped before the cut are settled: they are counted once per process, set of
    sites and ``SETTLED_S`` window and kept in this process's memory; only the rows after it (the
    last ``SETTLED_S`` to twice that) are read on every visit. A new row shows at once; a settled
    row that changes later (an erased recording, a result analysed again, a write committed more
    than ``SETTLED_S`` after its stamp) shows within ``2 * SETTLED_S``, when the cut moves on.
    """
    cut = settled_cut(now)
    if cut <= since:
        return [read(since, None)]
    settled = _kept(
        f"{name}:{since.isoformat()}:{cut.isoformat()}:{_sites_key(workspace)}", 2 * SETTLED_S,
        lambda: read(since, cut),
    )  # fmt: skip
    return [settled, read(cut, None)]


def _in_span(rows: QuerySet, field_name: str, since, before) -> QuerySet:
    rows = rows.filter(**{f"{field_name}__gte": since})
    return rows if before is None else rows.filter(**{f"{field_name}__lt": before})


def _kept(key: str, timeout: int, read):
    """``read()``, kept under ``key`` in this process's memory for ``timeout`` seconds."""
    local = caches["local"]
    value = local.get(key)
    if value is None:
        value = read()
        local.set(key, value, timeout=timeout)
    return value


def _sites_key(workspace: Workspace) -> str:
    return ",".join(map(str, sorted(workspace.site_ids)))


def _start_of(day: datetime.date) -> datetime.datetime:
    """The first moment of a local day: what "today" means on home, in its counts and its chart."""
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


def _counts_by_day(workspace: Workspace, *, since, before=None) -> dict:
    """{local day: {label: finished results}} for results finished from ``since`` (to ``before``)."""
    finished = workspace.diagnostics().filter(status=DiagnosticStatus.SUCCEEDED)
    rows = (
        _in_span(finished, "finished_at", since, before)
        .annotate(day=TruncDate("finished_at"))
        .order_by()
        .values("day", "label")
        .annotate(n=Count("id"))
    )
    by_day: dict = {}
    for row in rows:
        by_day.setdefault(row["day"], {})[row["label"]] = row["n"]
    return by_day
