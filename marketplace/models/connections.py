"""Per-tenant marketplace credentials; tokens are encrypted at rest (core.crypto)."""

from django.db import models

from core.crypto import EncryptedTextField
from core.models import TimeStampedModel
from marketplace.states import Marketplace


class ConnectionStatus(models.TextChoices):
    CONNECTED = "connected", "Connected"
    NEEDS_REAUTH = "needs_reauth", "Needs re-authorisation"
    DISCONNECTED = "disconnected", "Disconnected"


class MarketplaceConnection(TimeStampedModel):
    marketplace = models.CharField(max_length=16, choices=Marketplace.choices, unique=True)
    status = models.CharField(
        max_length=16, choices=ConnectionStatus.choices, default=ConnectionStatus.CONNECTED
    )
    access_token = EncryptedTextField(blank=True)
    refresh_token = EncryptedTextField(blank=True)
    access_token_expires_at = models.DateTimeField(null=True, blank=True)
    refresh_token_expires_at = models.DateTimeField(null=True, blank=True)
    scopes = models.JSONField(default=list, blank=True)
    # The marketplace account: eBay user, Etsy shop id, Vinted user id.
    account_id = models.CharField(max_length=64, blank=True)
    status_reason = models.CharField(max_length=300, blank=True)
    # The account's listing setup (marketplace.services.account_setup): what the marketplace
    # offers (eBay business policies and inventory locations; Etsy shipping profiles,
    # processing profiles, return policies), read at connect time and on demand, and the ids
    # chosen for new listings, sent on every offer / draft.
    setup_options = models.JSONField(default=dict, blank=True)
    setup = models.JSONField(default=dict, blank=True)
    setup_read_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.marketplace}:{self.status}"
