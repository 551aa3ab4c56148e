"""What sold, what it did to stock, and what Relist did on the other marketplaces."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from core.models import TimeStampedModel
from marketplace.states import Marketplace
from sales.states import DelistMode, SaleActionKind, SaleOutcome


class OrderLine(models.Model):
    """One line of a marketplace order, linked to the listing and product it sold.

    Unique per (order, line id): re-syncing an order never records a line twice, and the stock
    change rides on the insert of the line (see `sales.services.orders`).
    """

    order = models.ForeignKey("marketplace.Order", on_delete=models.CASCADE, related_name="lines")
    line_id = models.CharField(max_length=64)
    sku = models.CharField(max_length=64, blank=True)
    external_listing_id = models.CharField(max_length=64, blank=True)
    title = models.CharField(max_length=300, blank=True)
    quantity = models.PositiveIntegerField(default=1)
    product = models.ForeignKey(
        "marketplace.Product", null=True, on_delete=models.SET_NULL, related_name="order_lines"
    )
    listing = models.ForeignKey(
        "marketplace.Listing", null=True, on_delete=models.SET_NULL, related_name="order_lines"
    )
    stock_taken_at = models.DateTimeField(null=True)
    stock_restored_at = models.DateTimeField(null=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=("order", "line_id"), name="order_line_unique")
        ]

    def __str__(self) -> str:
        return f"{self.order_id}/{self.line_id}"


class Sale(models.Model):
    """A line that took stock: the start of the sale tracker's row."""

    line = models.OneToOneField(OrderLine, on_delete=models.CASCADE, related_name="sale")
    product = models.ForeignKey(
        "marketplace.Product", on_delete=models.CASCADE, related_name="sales"
    )
    marketplace = models.CharField(max_length=16, choices=Marketplace.choices)
    quantity = models.PositiveIntegerField()
    quantity_after = models.PositiveIntegerField()
    detected_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("-detected_at", "-id")
        indexes = [models.Index(fields=("-detected_at",), name="sale_detected_idx")]

    def __str__(self) -> str:
        return f"sale {self.pk} {self.marketplace}"


class SaleAction(TimeStampedModel):
    """What a sale asked of one other marketplace, and how it ended.

    A held action is the pending action a person confirms or rejects; an automatic one carries
    the job that does the work, whose status gives the outcome.
    """

    sale = models.ForeignKey(Sale, on_delete=models.CASCADE, related_name="actions")
    marketplace = models.CharField(max_length=16, choices=Marketplace.choices)
    kind = models.CharField(max_length=16, choices=SaleActionKind.choices)
    outcome = models.CharField(max_length=16, choices=SaleOutcome.choices)
    reason = models.TextField(blank=True)
    job = models.ForeignKey(
        "marketplace.MarketplaceJob", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    expires_at = models.DateTimeField(null=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    decided_at = models.DateTimeField(null=True)

    class Meta:
        ordering = ("-id",)
        constraints = [
            models.UniqueConstraint(fields=("sale", "marketplace"), name="sale_action_unique")
        ]
        indexes = [
            models.Index(
                fields=("expires_at",),
                name="sale_action_held_idx",
                condition=models.Q(outcome=SaleOutcome.HELD),
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} on {self.marketplace}: {self.outcome}"


class DelistPolicy(TimeStampedModel):
    """Per marketplace: what a sale elsewhere does to this marketplace's listing."""

    marketplace = models.CharField(max_length=16, choices=Marketplace.choices, unique=True)
    mode = models.CharField(max_length=16, choices=DelistMode.choices, default=DelistMode.AUTOMATIC)

    def __str__(self) -> str:
        return f"{self.marketplace}: {self.mode}"


class OversellAlert(TimeStampedModel):
    """Two marketplaces sold the same last unit before the delist landed."""

    product = models.ForeignKey(
        "marketplace.Product", on_delete=models.CASCADE, related_name="oversell_alerts"
    )
    line = models.OneToOneField(OrderLine, on_delete=models.CASCADE, related_name="oversell")
    earlier_line = models.ForeignKey(
        OrderLine, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True)

    class Meta:
        ordering = ("-id",)

    def __str__(self) -> str:
        return f"oversell of product {self.product_id}"


class SyncCursor(models.Model):
    """Per marketplace: orders modified up to here are known (incremental sale detection)."""

    marketplace = models.CharField(max_length=16, choices=Marketplace.choices, unique=True)
    orders_modified_since = models.DateTimeField(null=True)
    synced_at = models.DateTimeField(null=True)

    def __str__(self) -> str:
        return f"{self.marketplace} since {self.orders_modified_since}"


class LinkReview(TimeStampedModel):
    """An imported marketplace item matched to an existing product by title and price only:
    linked, but a person confirms the link or splits the item into a product of its own."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        CONFIRMED = "confirmed", "Confirmed"
        SPLIT = "split", "Split into its own product"

    listing = models.OneToOneField(
        "marketplace.Listing", on_delete=models.CASCADE, related_name="link_review"
    )
    product = models.ForeignKey(
        "marketplace.Product", on_delete=models.CASCADE, related_name="link_reviews"
    )
    imported = models.JSONField(default=dict)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    decided_at = models.DateTimeField(null=True)

    class Meta:
        ordering = ("-id",)

    def __str__(self) -> str:
        return f"review {self.listing_id} -> {self.product_id}: {self.status}"
