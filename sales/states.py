"""Enumerations of the sales domain."""

from django.db import models


class DelistMode(models.TextChoices):
    AUTOMATIC = "automatic", "Delist automatically"
    CONFIRM = "confirm", "Hold for confirmation"
    OFF = "off", "Do nothing"


class SaleActionKind(models.TextChoices):
    DELIST = "delist", "Delist"
    UPDATE_QUANTITY = "update_quantity", "Update quantity"
    NONE = "none", "No action"


class SaleOutcome(models.TextChoices):
    """Per sale, per other marketplace: what Relist did about it (the sale tracker)."""

    QUEUED = "queued", "Job queued"
    DELISTED = "delisted", "Delisted"
    QUANTITY_UPDATED = "quantity_updated", "Quantity updated"
    NOT_LISTED = "not_listed", "No action: not listed"
    ALREADY_GONE = "already_gone", "No action: already delisted"
    NOT_ENABLED = "not_enabled", "No action: not enabled"
    HELD = "held", "Held for confirmation"
    REJECTED = "rejected", "Rejected"
    EXPIRED = "expired", "Expired unconfirmed"
    FAILED = "failed", "Failed"


# Marketplace order states that give the stock back (eBay cancelState, Etsy status, Vinted).
RESTOCKING_ORDER_STATUSES = frozenset({"cancelled", "canceled", "refunded", "fully_refunded"})
