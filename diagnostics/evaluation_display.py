"""An evaluation, a reliability diagram and the promotion gate's comparison as admin HTML.

Server-rendered (an inline SVG for the diagram: no script, nothing fetched), escaped through
``format_html``. Used by the model-version and training-run admin pages.
"""

from __future__ import annotations

from typing import Any

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

_W, _H, _PAD = 240, 240, 30  # the diagram's plot area and margin, in px


def _num(value: Any, digits: int = 3) -> str:
    return f"{value:.{digits}f}" if isinstance(value, int | float) else "-"


def _interval(evaluation: dict) -> str:
    low, high = (evaluation.get("roc_auc_ci95") or [None, None])[:2]
    return f"{_num(evaluation.get('roc_auc'))} ({_num(low)} to {_num(high)})"


def headline_rows(evaluation: dict) -> list[tuple[str, str]]:
    """(what, value) of an evaluation's headline figures, in reading order."""
    return [
        (
            _("cases (positive)"),
            f"{evaluation.get('n', '-')} ({evaluation.get('n_positive', '-')})",
        ),
        (_("ROC AUC (95% bootstrap interval)"), _interval(evaluation)),
        (
            _("sensitivity at specificity %(s)s") % {"s": evaluation.get("target_specificity")},
            _num(evaluation.get("sensitivity_at_specificity")),
        ),
        (
            _("specificity at sensitivity %(s)s") % {"s": evaluation.get("target_sensitivity")},
            _num(evaluation.get("specificity_at_sensitivity")),
        ),
        (
            _("sensitivity / specificity at %(t)s") % {"t": evaluation.get("threshold")},
            f"{_num(evaluation.get('sensitivity'))} / {_num(evaluation.get('specificity'))}",
        ),
        (_("expected calibration error"), _num(evaluation.get("expected_calibration_error"))),
    ]


def reliability_svg(bins: list[dict]) -> SafeString:
    """Accuracy against confidence per bin (bars, width by bin, shade by count) and the
    diagonal a calibrated model would follow."""
    total = sum(b["count"] for b in bins) or 1
    bars = format_html_join(
        "",
        '<rect x="{}" y="{}" width="{}" height="{}" fill="#2b6cb0" fill-opacity="{}">'
        "<title>{}</title></rect>",
        (
            (
                f"{_PAD + b['lower'] * _W:.1f}",
                f"{_PAD + (1 - b['accuracy']) * _H:.1f}",
                f"{(b['upper'] - b['lower']) * _W - 1:.1f}",
                f"{b['accuracy'] * _H:.1f}",
                f"{0.35 + 0.65 * b['count'] / total:.2f}",
                _("confidence %(c)s, accuracy %(a)s, %(n)s cases")
                % {"c": _num(b["confidence"]), "a": _num(b["accuracy"]), "n": b["count"]},
            )
            for b in bins
            if b["count"]
        ),
    )
    ticks = format_html_join(
        "",
        '<text x="{}" y="{}" font-size="10" text-anchor="middle">{}</text>',
        ((f"{_PAD + t * _W:.0f}", _PAD + _H + 14, f"{t:.1f}") for t in (0, 0.5, 1.0)),
    )
    return format_html(
        '<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{}" height="{}" '
        'viewBox="0 0 {} {}" class="reliability-diagram"><title>{}</title>'
        '<rect x="{}" y="{}" width="{}" height="{}" fill="none" stroke="#888"/>{}'
        '<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#c53030" stroke-dasharray="4 3"/>{}'
        '<text x="{}" y="{}" font-size="11" text-anchor="middle">{}</text>'
        '<text x="10" y="{}" font-size="11" transform="rotate(-90 10 {})" '
        'text-anchor="middle">{}</text></svg>',
        _W + 2 * _PAD, _H + 2 * _PAD + 10, _W + 2 * _PAD, _H + 2 * _PAD + 10,
        _("Reliability diagram"), _PAD, _PAD, _W, _H, bars,
        _PAD, _PAD + _H, _PAD + _W, _PAD, ticks,
        _PAD + _W / 2, _PAD + _H + 30, _("confidence"),
        _PAD + _H / 2, _PAD + _H / 2, _("accuracy"),
    )  # fmt: skip


def subgroup_table(subgroups: dict) -> SafeString:
    rows = format_html_join(
        "",
        "<tr><th scope='row'>{}</th><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
        (
            (
                f"{attribute}: {value}",
                g["n"],
                g["n_positive"],
                _num(g["roc_auc"]),
                _num(g["sensitivity"]),
                _num(g["specificity"]),
            )
            for attribute, groups in subgroups.items()
            for value, g in groups.items()
        ),
    )
    return format_html(
        "<table><caption>{}</caption><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th>"
        "<th>{}</th><th>{}</th></tr>{}</table>",
        _("Subgroups (held out)"), _("subgroup"), _("cases"), _("positive"), _("AUC"),
        _("sensitivity"), _("specificity"), rows,
    )  # fmt: skip


def evaluation_html(evaluation: dict) -> SafeString:
    """An evaluation's figures, its reliability diagram and its subgroups."""
    if not evaluation:
        return format_html("{}", "-")
    rows = format_html_join(
        "", "<tr><th scope='row'>{}</th><td>{}</td></tr>", headline_rows(evaluation)
    )
    return format_html(
        "<table><caption>{}</caption>{}</table>{}{}",
        _("Held-out evaluation"),
        rows,
        reliability_svg(evaluation.get("reliability") or []),
        subgroup_table(evaluation.get("subgroups") or {}),
    )


def comparison_html(comparison: dict) -> SafeString:
    """The candidate beside production on the same cases, and the gate's verdict with reasons."""
    if not comparison:
        return format_html("{}", _("Not compared with production yet."))
    decision = comparison.get("decision") or {}
    verdict = format_html(
        '<p class="{}"><strong>{}</strong></p>{}',
        "gate-passed" if decision.get("passed") else "gate-refused",
        _("The promotion gate passes this model.")
        if decision.get("passed")
        else _("The promotion gate refuses this model."),
        format_html_join("", "<li>{}</li>", ((r,) for r in decision.get("reasons") or [])),
    )
    production = comparison.get("production")
    if not production or "candidate" not in comparison:
        return verdict
    mine, theirs = comparison["candidate"], comparison["production_evaluation"]
    rows = format_html_join(
        "",
        "<tr><th scope='row'>{}</th><td>{}</td><td>{}</td></tr>",
        (
            (label, a, b)
            for (label, a), (_label, b) in zip(
                headline_rows(mine), headline_rows(theirs), strict=True
            )
        ),
    )
    groups = format_html_join(
        "",
        "<tr><th scope='row'>{}</th><td>{}</td><td>{}</td></tr>",
        (
            (
                f"{attribute}: {value} (n={g['n']})",
                f"AUC {_num(g['roc_auc'])}, sens {_num(g['sensitivity'])}",
                _subgroup_cell(theirs, attribute, value),
            )
            for attribute, found in (mine.get("subgroups") or {}).items()
            for value, g in found.items()
        ),
    )
    return format_html(
        "{}<table class='model-comparison'><caption>{}</caption><tr><th>{}</th><th>{}</th>"
        "<th>{}</th></tr>{}{}</table>",
        verdict,
        _("On the same %(n)s held-out cases") % {"n": comparison.get("cases")},
        _("metric"), _("this model"), production.get("name"), rows, groups,
    )  # fmt: skip


def _subgroup_cell(evaluation: dict, attribute: str, value: str) -> str:
    g = (evaluation.get("subgroups") or {}).get(attribute, {}).get(value)
    return f"AUC {_num(g['roc_auc'])}, sens {_num(g['sensitivity'])}" if g else "-"


def history_html(history: list[dict]) -> SafeString:
    """The metrics after each epoch, one row an epoch."""
    if not history:
        return format_html("{}", "-")
    keys = sorted({k for row in history for k in row} - {"epoch"})
    head = format_html_join("", "<th>{}</th>", ((k.replace("_", " "),) for k in keys))
    body = format_html_join(
        "",
        "<tr><th scope='row'>{}</th>{}</tr>",
        (
            (
                row["epoch"],
                format_html_join("", "<td>{}</td>", ((_num(row.get(k), 4),) for k in keys)),
            )
            for row in history
        ),
    )
    return format_html("<table><tr><th>{}</th>{}</tr>{}</table>", _("epoch"), head, body)
