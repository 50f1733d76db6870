"""The beat task's work for watching the model: refresh the daily rows, measure drift.

Today's and yesterday's agreement and input rows are recomputed (results analysed since the last
run), and so are the agreement rows of the days whose results were reviewed in the last two
intervals (a review of a result from weeks ago changes that day's row; the task each review sends
does it at once, this catches a lost one). Then the production model's input drift is measured
and published. Everything is recomputed, so a run repeated or overlapping changes nothing.
"""

import datetime as dt

from django.conf import settings
from django.utils import timezone

from diagnostics import agreement, drift
from diagnostics.registry import production_version


def refresh(*, first: dt.date | None = None, last: dt.date | None = None) -> dict:
    """Refresh the rows (of ``first`` to ``last``, by default yesterday and today) and the drift
    gauge; what was done."""
    last = last or timezone.localdate()
    first = first or last - dt.timedelta(days=1)
    agreement_rows = agreement.refresh_days(first, last)
    recently = timezone.now() - dt.timedelta(seconds=2 * settings.WATCH_REFRESH_INTERVAL_S)
    reviewed_days = sorted(
        d for d in agreement.days_reviewed_since(recently) if not first <= d <= last
    )
    for day in reviewed_days:
        agreement_rows += agreement.refresh_days(day, day)
    input_rows = drift.refresh_days(first, last)
    measures = drift.publish_drift(production_version())
    return {
        "agreement_rows": agreement_rows,
        "reviewed_days": [d.isoformat() for d in reviewed_days],
        "input_rows": input_rows,
        "drift": measures,
    }
