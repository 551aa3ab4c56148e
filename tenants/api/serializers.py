from rest_framework import serializers

from tenants.models import ExtensionToken


class ExtensionTokenSerializer(serializers.ModelSerializer):
    """A token as listed: its prefix identifies it, the token itself is never shown again."""

    is_active = serializers.BooleanField(read_only=True)

    class Meta:
        model = ExtensionToken
        fields: tuple[str, ...] = (
            "id",
            "name",
            "prefix",
            "is_active",
            "created_at",
            "last_used_at",
            "revoked_at",
        )
        read_only_fields = fields


class IssuedExtensionTokenSerializer(ExtensionTokenSerializer):
    token = serializers.CharField(
        read_only=True, help_text="Paste into the extension now: it is shown only this once."
    )

    class Meta(ExtensionTokenSerializer.Meta):
        fields = (*ExtensionTokenSerializer.Meta.fields, "token")
        read_only_fields = fields


class ExtensionTokenIssueSerializer(serializers.Serializer):
    name = serializers.CharField(
        max_length=100, required=False, allow_blank=True, help_text="e.g. the browser's name."
    )
