"""Input and output shapes of the patients API."""

from rest_framework import serializers

from portal.core import permissions
from portal.core.models import Patient, Sex, Site


class PatientSerializer(serializers.ModelSerializer):
    site_code = serializers.CharField(source="site.code", read_only=True)

    class Meta:
        model = Patient
        fields = [
            "id", "site", "site_code", "external_id", "given_name", "family_name", "birth_date",
            "sex", "research_consent", "research_consent_at", "created_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = fields


class _ClinicalSiteField(serializers.PrimaryKeyRelatedField):
    """A site of the requesting user's: any other id is "does not exist", like an unknown one."""

    def get_queryset(self):
        request = self.context.get("request")
        if request is None:
            return Site.objects.none()
        return permissions.sites_for(request.user)


class PatientCreateSerializer(serializers.Serializer):
    site = _ClinicalSiteField(
        required=False, help_text="Required when you work at more than one site."
    )
    external_id = serializers.CharField(max_length=64)
    given_name = serializers.CharField(max_length=150)
    family_name = serializers.CharField(max_length=150)
    birth_date = serializers.DateField()
    sex = serializers.ChoiceField(choices=Sex.choices, default=Sex.UNKNOWN)
    research_consent = serializers.BooleanField(default=False)

    def validate(self, data):
        if "site" not in data:
            sites = list(self.fields["site"].get_queryset()[:2])
            if len(sites) != 1:
                raise serializers.ValidationError({"site": ["Choose the patient's site."]})
            data["site"] = sites[0]
        return data
