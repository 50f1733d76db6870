"""What the diagnostic page's "Similar confirmed cases" panel needs, in one dict.

The page view merges ``panel_context(diagnostic=..., user=...)`` into its context; the template
(``templates/diagnostics/_similar_cases.html``) only displays it.
"""

from django.urls import reverse

from diagnostics.selectors import diagnostics_for
from recommender.scoring import label_shares
from recommender.selectors import feedback_given, similar_cases

PANEL_K = 10


def panel_context(*, diagnostic, user, k: int = PANEL_K) -> dict:
    """Context for the similar-cases panel (three to five queries, no writes).

    - ``similar_cases``: the reviewed ``Diagnostic`` objects, best first, with ``recording``
      joined, each carrying ``similarity`` (cosine, 0-1), ``similarity_percent`` (int),
      ``score`` (hybrid), ``label_display``, ``view_url`` (its page, ``?from=`` this one, so the
      view is recorded as a co-view) and ``feedback_url`` (POST ``{"kind": "marked_similar" |
      "dismissed"}`` there) and ``feedback``, this user's latest choice on it beside this
      result ("marked_similar", "dismissed" or "");
    - ``similar_shares``: ``[{"label", "display", "count", "of", "text"}]``, most frequent first,
      text like "7 of 10 similar confirmed cases: possible respiratory anomaly";
    - ``similar_summary``: the first share's text, or "";
    - ``similar_unavailable``: "" or why there can be no cases yet ("no_index": no index built;
      "not_embedded": this result is not in the index's model version yet);
    - ``similar_source``: this diagnostic's id.
    """
    result = similar_cases(diagnostic=diagnostic, user=user, k=k)
    ranked = {case.id: case for case in result.cases}
    objects = {
        d.pk: d
        for d in diagnostics_for(user).filter(pk__in=list(ranked)).select_related("recording")
    }
    chosen = feedback_given(user=user, source_id=diagnostic.pk, case_ids=objects) if objects else {}
    cases = []
    for case in result.cases:
        obj = objects.get(case.id)
        if obj is None:  # reviewed moments ago and since moved out of reach: leave it out
            continue
        obj.similarity = case.similarity
        obj.similarity_percent = round(max(0.0, case.similarity) * 100)
        obj.score = case.score
        obj.label_display = case.label_display
        obj.view_url = f"{reverse('pages:diagnostic-detail', args=[obj.pk])}?from={diagnostic.pk}"
        obj.feedback_url = reverse("diagnostic-similar-feedback", args=[diagnostic.pk, obj.pk])
        obj.feedback = chosen.get(obj.pk, "")
        cases.append(obj)
    shares = [share.as_dict() for share in label_shares([c.review_label for c in cases])]
    return {
        "similar_cases": cases,
        "similar_shares": shares,
        "similar_summary": shares[0]["text"] if shares else "",
        "similar_unavailable": result.unavailable,
        "similar_source": diagnostic.pk,
    }
