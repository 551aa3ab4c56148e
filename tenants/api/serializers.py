from rest_framework import serializers

from tenants.models import ApiToken, ExtensionToken


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


class LoginSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=128, trim_whitespace=False)
    name = serializers.CharField(
        max_length=100,
        required=False,
        allow_blank=True,
        help_text="Names the device, to recognise the token in the list (e.g. 'Firefox, laptop').",
    )


class ApiTokenSerializer(serializers.ModelSerializer):
    """A token as listed: its prefix identifies it, the token itself is never shown again."""

    class Meta:
        model = ApiToken
        fields = ("id", "name", "prefix", "created_at", "expires_at", "last_used_at")
        read_only_fields = fields


class LoginUserSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    role = serializers.CharField(help_text="The user's role in this shop.")


class IssuedApiTokenSerializer(ApiTokenSerializer):
    token = serializers.CharField(
        read_only=True,
        help_text="Send as `Authorization: Bearer <token>`; shown only this once.",
    )
    user = LoginUserSerializer(read_only=True)

    class Meta(ApiTokenSerializer.Meta):
        fields = (*ApiTokenSerializer.Meta.fields, "token", "user")  # type: ignore[assignment]
        read_only_fields = fields  # type: ignore[assignment]
