"""Similar confirmed cases over REST, and clinicians' feedback on them.

``GET /api/v1/diagnostics/{id}/similar/?k=10`` and
``POST /api/v1/diagnostics/{id}/similar/{other_id}/feedback/`` with ``{"kind": ...}``.
A diagnostic the user may not see does not exist for them (404), whichever side it is on.
"""

from django.conf import settings
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from diagnostics.selectors import visible_diagnostic
from portal.core.audit import AuditContext, record_event
from portal.core.errors import Invalid
from recommender import selectors, services
from recommender.models import InteractionKind

K_DEFAULT = 10


def _k(request) -> int:
    raw = request.query_params.get("k", str(K_DEFAULT))
    try:
        k = int(raw)
    except ValueError:
        k = 0
    if not 1 <= k <= settings.RECOMMENDER_MAX_K:
        raise Invalid(f"k must be a whole number from 1 to {settings.RECOMMENDER_MAX_K}.")
    return k


class SimilarCaseSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    review_label = serializers.CharField()
    label_display = serializers.CharField()
    similarity = serializers.FloatField(help_text="Embedding cosine similarity.")
    score = serializers.FloatField(help_text="The hybrid score the ranking used.")


class LabelShareSerializer(serializers.Serializer):
    label = serializers.CharField()
    display = serializers.CharField()
    count = serializers.IntegerField()
    of = serializers.IntegerField()
    text = serializers.CharField(help_text='"7 of 10 similar confirmed cases: ..."')


class SimilarCasesSerializer(serializers.Serializer):
    """The response's shape, for the OpenAPI schema (the body is ``SimilarCases.as_dict()``)."""

    diagnostic = serializers.IntegerField()
    k = serializers.IntegerField()
    available = serializers.BooleanField()
    unavailable_reason = serializers.CharField()
    model_version = serializers.IntegerField(allow_null=True)
    cases = SimilarCaseSerializer(many=True)
    label_shares = LabelShareSerializer(many=True)


class SimilarCasesView(APIView):
    """The most similar reviewed cases the user may see, with their confirmed labels."""

    @extend_schema(
        parameters=[OpenApiParameter("k", int, description="How many cases, 1 to 50 (10).")],
        responses={200: SimilarCasesSerializer},
    )
    def get(self, request, pk: int):
        diagnostic = visible_diagnostic(request.user, pk)
        k = _k(request)
        result = selectors.similar_cases(diagnostic=diagnostic, user=request.user, k=k)
        record_event(
            action="diagnostic.similar_cases_viewed", actor=request.user, obj=diagnostic,
            patient=diagnostic.patient, context=AuditContext.of(request),
            detail={"k": k, "cases": [case.id for case in result.cases]},
        )  # fmt: skip
        return Response(result.as_dict())


class FeedbackSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(
        choices=[
            (k.value, k.label) for k in (InteractionKind.MARKED_SIMILAR, InteractionKind.DISMISSED)
        ]
    )


class SimilarCaseFeedbackView(APIView):
    """ "Mark as similar" / "not similar" on a case shown beside this one."""

    @extend_schema(
        request=FeedbackSerializer,
        responses={
            201: inline_serializer(
                "SimilarCaseFeedback",
                {
                    "id": serializers.IntegerField(),
                    "kind": serializers.CharField(),
                    "diagnostic": serializers.IntegerField(),
                    "similar_case": serializers.IntegerField(),
                    "at": serializers.DateTimeField(),
                },
            )
        },
    )
    def post(self, request, pk: int, other_id: int):
        diagnostic = visible_diagnostic(request.user, pk)
        other = visible_diagnostic(request.user, other_id)
        body = FeedbackSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        interaction = services.record_feedback(
            actor=request.user, diagnostic=diagnostic, other=other,
            kind=body.validated_data["kind"], audit=AuditContext.of(request),
        )  # fmt: skip
        return Response(
            {"id": interaction.pk, "kind": interaction.kind, "diagnostic": diagnostic.pk,
             "similar_case": other.pk, "at": interaction.at},
            status=201,
        )  # fmt: skip
