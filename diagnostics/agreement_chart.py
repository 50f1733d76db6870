"""The weekly agreement chart of the admin, drawn on the server as SVG coordinates.

One line per model version over the weeks shown (0 to 100% agreement, bottom to top); a week with
no definite review has no point. The template (``admin/diagnostics/agreement.html``) draws the
axes, the polylines and a table of the same numbers for those who do not read charts.
"""

import datetime as dt
from dataclasses import dataclass

WIDTH, HEIGHT, LEFT, BOTTOM, TOP, RIGHT = 640, 240, 44, 28, 12, 12
COLOURS = ("#1f6feb", "#d1242f", "#1a7f37", "#9a6700", "#8250df", "#bc4c00")


@dataclass(frozen=True)
class Line:
    name: str
    colour: str
    points: str  # "x,y x,y …" for <polyline points>
    dots: list[tuple[float, float, str]]  # (x, y, title)


def chart(series: dict[str, list[tuple[dt.date, int, int]]], weeks: list[dt.date]) -> dict:
    """Coordinates for ``weekly_agreement``'s series over ``weeks`` (their Mondays, in order)."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = plot_w / max(1, len(weeks) - 1)
    x_of = {week: LEFT + i * step for i, week in enumerate(weeks)}
    lines = []
    for index, (name, points) in enumerate(sorted(series.items())):
        coords = []
        for week, definite, agreed in points:
            if week not in x_of or not definite:
                continue
            share = agreed / definite
            y = TOP + plot_h * (1 - share)
            coords.append((round(x_of[week], 1), round(y, 1),
                           f"{name}, {week.isoformat()}: {share:.0%} of {definite}"))  # fmt: skip
        lines.append(Line(
            name=name, colour=COLOURS[index % len(COLOURS)],
            points=" ".join(f"{x},{y}" for x, y, _ in coords), dots=coords,
        ))  # fmt: skip
    grid = [
        {"y": round(TOP + plot_h * (1 - level / 100), 1), "label": f"{level}%"}
        for level in (0, 25, 50, 75, 100)
    ]
    ticks = [{"x": round(x, 1), "label": week.strftime("%d %b")} for week, x in x_of.items()]
    return {"width": WIDTH, "height": HEIGHT, "left": LEFT, "right": WIDTH - RIGHT,
            "bottom": HEIGHT - BOTTOM, "lines": lines, "grid": grid, "ticks": ticks}  # fmt: skip


def mondays(last: dt.date, count: int) -> list[dt.date]:
    """The ``count`` weeks up to the one holding ``last``, oldest first."""
    this_monday = last - dt.timedelta(days=last.weekday())
    return [this_monday - dt.timedelta(weeks=n) for n in range(count - 1, -1, -1)]
