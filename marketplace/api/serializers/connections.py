from rest_framework import serializers

from marketplace.models.connections import ConnectionStatus
from marketplace.states import Marketplace


class ConnectionStateSerializer(serializers.Serializer):
    """A marketplace connection, never its tokens."""

    marketplace = serializers.ChoiceField(choices=Marketplace.choices)
    status = serializers.ChoiceField(choices=ConnectionStatus.choices)
    status_reason = serializers.CharField()
    account_id = serializers.CharField(help_text="eBay user, Etsy shop id; empty when unknown.")
    scopes = serializers.ListField(child=serializers.CharField())
    access_token_expires_at = serializers.DateTimeField(allow_null=True)
    updated_at = serializers.DateTimeField(allow_null=True)
    extension_tokens = serializers.IntegerField(help_text="Vinted: active extension tokens.")
    extensions_online = serializers.IntegerField(help_text="Vinted: connected extensions.")


class AuthorizationStartSerializer(serializers.Serializer):
    authorize_url = serializers.URLField(help_text="Send the user's browser here.")
    state = serializers.CharField(help_text="Comes back on the callback; valid for expires_in s.")
    redirect_uri = serializers.CharField(help_text="Where the marketplace sends the user back.")
    expires_in = serializers.IntegerField()


class AuthorizationCallbackSerializer(serializers.Serializer):
    code = serializers.CharField(max_length=2000)
    state = serializers.CharField(max_length=4000)
