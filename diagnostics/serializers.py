"""Input and output shapes of the diagnostics API."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from diagnostics.models import Diagnostic, DiagnosticStatus, Label, ModelVersion, QualityGate
from diagnostics.reviews import Decision


class ModelProvenanceSerializer(serializers.Serializer):
    """What produced a result: the model version, its artifact's sha256 and feature settings."""

    name = serializers.CharField()
    version = serializers.CharField()
    sha256 = serializers.CharField(help_text="sha256 of the model artifact that was served.")
    trained_on = serializers.CharField(help_text="'synthetic', or the data the model learned from.")
    synthetic = serializers.BooleanField()
    clinically_validated = serializers.BooleanField()
    features = serializers.DictField(help_text="The log-mel front end's settings.")
    clip_seconds = serializers.FloatField()


class DiagnosticSerializer(serializers.ModelSerializer):
    """A row of the diagnostics list (the queue position is on the detail only: it is a count)."""

    kind = serializers.CharField(source="recording.kind", read_only=True)
    model_version = serializers.SerializerMethodField()
    synthetic_model = serializers.SerializerMethodField()
    research_use_only = serializers.SerializerMethodField()
    model = serializers.SerializerMethodField()
    label = serializers.SerializerMethodField()
    label_shown = serializers.SerializerMethodField()
    quality_gate = serializers.SerializerMethodField()
    review_label = serializers.SerializerMethodField()

    class Meta:
        model = Diagnostic
        fields = [
            "id", "patient", "recording", "kind", "status", "urgent", "label", "label_shown",
            "quality_gate", "confidence",
            "model_version", "synthetic_model", "research_use_only", "model", "queued_at", "started_at", "finished_at",
            "review_label", "reviewed_at",
        ]  # fmt: skip
        read_only_fields = fields

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_model_version(self, diagnostic) -> str | None:
        version = diagnostic.model_version
        return str(version) if version else None

    def get_synthetic_model(self, diagnostic) -> bool:
        return bool(diagnostic.model_version and diagnostic.model_version.is_synthetic)

    def get_research_use_only(self, diagnostic) -> bool:
        return bool(diagnostic.model_version and diagnostic.model_version.research_use_only)

    @extend_schema_field(ModelProvenanceSerializer(allow_null=True))
    def get_model(self, diagnostic):
        version = diagnostic.model_version
        return version.provenance() if version else None

    @extend_schema_field(serializers.ChoiceField(choices=Label.choices, allow_null=True))
    def get_label(self, diagnostic):
        return diagnostic.label or None

    @extend_schema_field(serializers.ChoiceField(choices=Label.choices, allow_null=True))
    def get_label_shown(self, diagnostic):
        return diagnostic.label_shown or None

    @extend_schema_field(serializers.ChoiceField(choices=QualityGate.choices, allow_null=True))
    def get_quality_gate(self, diagnostic):
        return diagnostic.quality_gate or None

    @extend_schema_field(serializers.ChoiceField(choices=Label.choices, allow_null=True))
    def get_review_label(self, diagnostic):
        return diagnostic.review_label or None


class DiagnosticDetailSerializer(serializers.Serializer):
    """The shape of ``GET /api/v1/diagnostics/{id}/``: the live status message with the review.

    Documentation only: the body is built by ``diagnostics.api.detail_body`` from
    ``diagnostics.live.status_message``, the message WebSocket subscribers receive.
    """

    type = serializers.ChoiceField(choices=["diagnostic"])
    id = serializers.IntegerField()
    patient = serializers.IntegerField()
    status = serializers.ChoiceField(choices=DiagnosticStatus.choices)
    label = serializers.ChoiceField(choices=Label.choices, allow_null=True)
    label_display = serializers.CharField(allow_null=True)
    label_shown = serializers.ChoiceField(
        choices=Label.choices,
        allow_null=True,
        help_text="The headline: the reviewed label, else inconclusive when the recording failed "
        "the quality gate, else the model's label.",
    )
    label_shown_display = serializers.CharField(allow_null=True)
    quality_gate = serializers.ChoiceField(choices=QualityGate.choices, allow_null=True)
    quality_gate_display = serializers.CharField(allow_null=True)
    confidence = serializers.FloatField(allow_null=True)
    model_version = serializers.CharField(allow_null=True)
    synthetic_model = serializers.BooleanField()
    research_use_only = serializers.BooleanField(
        help_text="True for a model not validated for clinical use: research use only, not a "
        "medical device."
    )
    model = ModelProvenanceSerializer(allow_null=True)
    urgent = serializers.BooleanField()
    queue_position = serializers.IntegerField(allow_null=True)
    expected_wait_s = serializers.IntegerField(
        allow_null=True,
        help_text="While queued: about how many seconds until the analysis starts (docs/api.md).",
    )
    error = serializers.CharField(allow_null=True)
    updated_at = serializers.DateTimeField()
    review_label = serializers.ChoiceField(choices=Label.choices, allow_null=True)
    review_note = serializers.CharField(allow_blank=True)
    reviewed_at = serializers.DateTimeField(allow_null=True)


class PendingItemSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=DiagnosticStatus.choices)


class PendingResultsSerializer(serializers.Serializer):
    patient = serializers.IntegerField()
    pending = PendingItemSerializer(many=True, help_text="Queued and running, oldest first.")
    recent = PendingItemSerializer(many=True, help_text="The 20 most recent, newest first.")


class ReviewSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(choices=Decision.CHOICES)
    label = serializers.ChoiceField(
        choices=Label.choices, required=False, help_text="The correct label (with 'correct')."
    )
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)

    def validate(self, data):
        if data["decision"] == Decision.CORRECT and not data.get("label"):
            raise serializers.ValidationError({"label": ["Choose the correct label."]})
        return data


class ModelVersionSerializer(serializers.ModelSerializer):
    class Meta:
        model = ModelVersion
        fields = [
            "id", "name", "version", "sha256", "labels", "sample_rate", "clip_seconds",
            "metrics", "trained_on", "clinically_validated", "features", "status",
            "canary_fraction", "created_at", "promoted_at",
        ]  # fmt: skip
        read_only_fields = fields
