from marketplace.models.connections import MarketplaceConnection
from marketplace.models.idempotency import IdempotencyRecord
from marketplace.models.jobs import JobEvent, MarketplaceJob, MarketplaceTask
from marketplace.models.products import Listing, Order, Product, ProductImage

__all__ = (
    "IdempotencyRecord",
    "JobEvent",
    "Listing",
    "MarketplaceConnection",
    "MarketplaceJob",
    "MarketplaceTask",
    "Order",
    "Product",
    "ProductImage",
)
