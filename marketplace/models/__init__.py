from marketplace.models.connections import MarketplaceConnection
from marketplace.models.idempotency import IdempotencyRecord
from marketplace.models.jobs import JobEvent, MarketplaceJob, MarketplaceTask
from marketplace.models.mappings import AttributeKind, Category, CategoryMapping, ValueMapping
from marketplace.models.products import Listing, Order, Product, ProductCondition, ProductImage

__all__ = (
    "AttributeKind",
    "Category",
    "CategoryMapping",
    "IdempotencyRecord",
    "JobEvent",
    "Listing",
    "MarketplaceConnection",
    "MarketplaceJob",
    "MarketplaceTask",
    "Order",
    "Product",
    "ProductCondition",
    "ProductImage",
    "ValueMapping",
)
