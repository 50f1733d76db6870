"""Input and output shapes of the upload endpoints (``diagnostics.upload_api``)."""

import json

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from diagnostics.symptoms import clean_symptoms
from media_assets.models import Recording, RecordingKind

SYMPTOMS_SCHEMA = {
    "type": "object",
    "description": "Symptoms; in multipart forms a JSON string.",
    "properties": {
        "fever": {"type": "boolean"},
        "cough_days": {"type": "integer", "minimum": 0, "maximum": 365},
        "shortness_of_breath": {"type": "boolean"},
        "known_conditions": {"type": "array", "items": {"type": "string"}},
    },
    "additionalProperties": False,
}


@extend_schema_field(SYMPTOMS_SCHEMA)
class SymptomsField(serializers.Field):
    """Symptoms arrive as a JSON string in multipart forms and as an object in JSON bodies."""

    def to_internal_value(self, data):
        if isinstance(data, str):
            try:
                data = json.loads(data) if data.strip() else {}
            except json.JSONDecodeError as exc:
                raise serializers.ValidationError("symptoms must be valid JSON.") from exc
        try:
            return clean_symptoms(data)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.messages) from exc

    def to_representation(self, value):
        return value


class RecordingUploadSerializer(serializers.Serializer):
    patient = serializers.IntegerField(min_value=1)
    kind = serializers.ChoiceField(choices=RecordingKind.choices)
    symptoms = SymptomsField(required=False, default=dict)
    urgent = serializers.BooleanField(
        required=False, default=False, help_text="Analysed ahead of routine recordings."
    )


class DiagnosticSummarySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField()
    urgent = serializers.BooleanField()
    queue_position = serializers.IntegerField(allow_null=True)
    expected_wait_s = serializers.IntegerField(allow_null=True)


class RecordingSerializer(serializers.ModelSerializer):
    diagnostic = serializers.SerializerMethodField()
    duplicate = serializers.SerializerMethodField()

    class Meta:
        model = Recording
        fields = [
            "id", "patient", "kind", "status", "sha256", "size_bytes", "duration_s",
            "sample_rate", "channels", "quality", "created_at", "diagnostic", "duplicate",
        ]  # fmt: skip

    @extend_schema_field(DiagnosticSummarySerializer(allow_null=True))
    def get_diagnostic(self, recording) -> dict | None:
        diagnostic = self.context.get("diagnostic")
        if diagnostic is None:
            return None
        waiting = self.context["wait"]
        return {
            "id": diagnostic.pk, "status": diagnostic.status, "urgent": diagnostic.urgent,
            "queue_position": waiting.position, "expected_wait_s": waiting.seconds,
        }  # fmt: skip

    def get_duplicate(self, recording) -> bool:
        return bool(self.context.get("duplicate", False))


class DirectUploadSerializer(serializers.Serializer):
    patient = serializers.IntegerField(min_value=1)
    kind = serializers.ChoiceField(choices=RecordingKind.choices)
    size_bytes = serializers.IntegerField(min_value=1)
    sha256 = serializers.RegexField(
        r"^[0-9a-fA-F]{64}$", error_messages={"invalid": "sha256 must be 64 hex digits."}
    )
    filename = serializers.CharField(required=False, allow_blank=True, max_length=1000, default="")
    content_type = serializers.CharField(
        required=False, max_length=100, default="application/octet-stream"
    )


class CompleteUploadSerializer(serializers.Serializer):
    symptoms = SymptomsField(required=False, default=dict)
    urgent = serializers.BooleanField(
        required=False, default=False, help_text="Analysed ahead of routine recordings."
    )
