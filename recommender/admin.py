"""Admin for the recommender: all read-only (embeddings, builds, priorities and evaluations are
derived; interactions are a log). Rows about diagnostics are scoped by ``portal.core.permissions``."""

from django.contrib import admin
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from diagnostics.selectors import diagnostics_for
from portal.core.admin_base import ReadOnlyAdmin
from recommender.evaluation import METHODS
from recommender.models import (
    CaseEmbedding,
    IndexBuild,
    Interaction,
    RecommenderEvaluation,
    ReviewPriority,
)


class ScopedByDiagnostic(ReadOnlyAdmin):
    def get_queryset(self, request):
        visible = diagnostics_for(request.user).values("pk")
        return super().get_queryset(request).filter(diagnostic__in=visible)


@admin.register(CaseEmbedding)
class CaseEmbeddingAdmin(ScopedByDiagnostic):
    list_display = ["diagnostic", "model_version", "created_at"]
    list_select_related = ["model_version", "diagnostic"]
    list_filter = ["model_version"]
    raw_id_fields = ["diagnostic"]
    exclude = ["vector"]
    show_full_result_count = False


@admin.register(Interaction)
class InteractionAdmin(ScopedByDiagnostic):
    list_display = ["user", "diagnostic", "kind", "source", "at"]
    list_filter = ["kind"]
    list_select_related = ["user", "diagnostic", "source"]
    raw_id_fields = ["user", "diagnostic", "source"]
    date_hierarchy = "at"


@admin.register(ReviewPriority)
class ReviewPriorityAdmin(ScopedByDiagnostic):
    list_display = ["diagnostic", "base_score", "uncertainty", "disagreement", "neighbours",
                    "computed_at"]  # fmt: skip
    list_select_related = ["diagnostic"]
    raw_id_fields = ["diagnostic"]
    ordering = ["-rank_key"]
    show_full_result_count = False


@admin.register(IndexBuild)
class IndexBuildAdmin(ReadOnlyAdmin):
    list_display = ["id", "model_version", "kind", "count", "high_water", "reason", "built_at",
                    "build_seconds"]  # fmt: skip
    list_select_related = ["model_version"]
    list_filter = ["kind", "reason"]


@admin.register(RecommenderEvaluation)
class RecommenderEvaluationAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "data", "model_version", "k", "cases", "queries", "hybrid",
                    "embedding_only", "metadata_only", "random"]  # fmt: skip
    list_select_related = ["model_version"]
    list_filter = ["data"]
    fields = ["created_at", "data", "model_version", "k", "cases", "queries", "results_table",
              "parameters"]  # fmt: skip
    readonly_fields = fields

    def _precision(self, obj, method):
        value = obj.results.get(method, {}).get("precision")
        return f"{value:.3f}" if isinstance(value, int | float) else "-"

    @admin.display(description=_("hybrid P@k"))
    def hybrid(self, obj):
        return self._precision(obj, "hybrid")

    @admin.display(description=_("embedding P@k"))
    def embedding_only(self, obj):
        return self._precision(obj, "embedding")

    @admin.display(description=_("metadata P@k"))
    def metadata_only(self, obj):
        return self._precision(obj, "metadata")

    @admin.display(description=_("random P@k"))
    def random(self, obj):
        return self._precision(obj, "random")

    @admin.display(description=_("Results"))
    def results_table(self, obj):
        rows = format_html_join(
            "",
            "<tr><th scope='row'>{}</th><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    method,
                    _fmt(obj.results[method].get("precision")),
                    _fmt(obj.results[method].get("coverage")),
                    _fmt(obj.results[method].get("answered")),
                )
                for method in METHODS
                if method in obj.results
            ),
        )
        return format_html(
            "<table><thead><tr><th>ranking</th><th>precision@{}</th><th>coverage</th>"
            "<th>queries answered in full</th></tr></thead><tbody>{}</tbody></table>",
            obj.k,
            rows,
        )


def _fmt(value):
    return f"{value:.3f}" if isinstance(value, int | float) else "-"
