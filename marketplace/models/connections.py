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

    def __str__(self) -> str:
        return f"{self.marketplace}:{self.status}"
