"""The metric names a PromQL expression selects, with the jobs its matchers name."""

import re

KEYWORDS = {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring",
            "group_left", "group_right", "inf", "nan"}  # fmt: skip
GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|\{[^}]*\}|[a-zA-Z_:][a-zA-Z0-9_:]*|\S')


def selected_metrics(expr: str) -> set[tuple[str, str | None]]:
    """Pairs of (metric name, job) for every selector in ``expr``; job is None when the selector
    names no job, and each alternative of a ``job=~"a|b"`` matcher gives a pair of its own."""
    expr = GROUPING.sub(" ", re.sub(r"\[[^\]]*\]", " ", expr))
    tokens = TOKEN.findall(expr)
    selected = set()
    for index, token in enumerate(tokens):
        if not re.fullmatch(r"[a-zA-Z_:][a-zA-Z0-9_:]*", token) or token in KEYWORDS:
            continue
        following = tokens[index + 1] if index + 1 < len(tokens) else ""
        if following == "(":
            continue  # a function
        matchers = following if following.startswith("{") else ""
        job = re.search(r'\bjob\s*(=~?)\s*"([^"]*)"', matchers)
        jobs = job.group(2).split("|") if job else [None]
        selected |= {(token, name) for name in jobs}
    return selected
