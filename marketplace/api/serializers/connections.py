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


class SetupOptionSerializer(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()
    default = serializers.BooleanField()


class ConnectionSetupSerializer(serializers.Serializer):
    """A connection's listing setup. eBay keys: fulfillment_policy_id, payment_policy_id,
    return_policy_id, merchant_location_key. Etsy keys: shipping_profile_id,
    readiness_state_id (processing profile), return_policy_id."""

    marketplace = serializers.CharField()
    setup = serializers.DictField(
        child=serializers.CharField(), help_text="The chosen id for each key."
    )
    options = serializers.DictField(
        child=SetupOptionSerializer(many=True),
        source="setup_options",
        help_text="What the account offers, per key, as last read.",
    )
    missing = serializers.ListField(
        child=serializers.CharField(), help_text="Keys a listing needs that have no choice."
    )
    read_at = serializers.DateTimeField(source="setup_read_at", allow_null=True)


class ConnectionSetupChoiceSerializer(serializers.Serializer):
    setup = serializers.DictField(
        child=serializers.CharField(max_length=64),
        help_text='Key → id among the options, e.g. {"fulfillment_policy_id": "620…"}.',
    )
