"""Every enumeration of the marketplace domain, in one place."""

from django.db import models


class Marketplace(models.TextChoices):
    VINTED = "vinted", "Vinted"
    EBAY = "ebay", "eBay"
    ETSY = "etsy", "Etsy"


class ActionCode(models.TextChoices):
    PUBLISH = "publish", "Publish"
    UPDATE = "update", "Update"
    DELETE = "delete", "Delete"
    SYNC_LISTINGS = "sync_listings", "Sync listings"
    SYNC_ORDERS = "sync_orders", "Sync orders"
    GET_SHOP = "get_shop", "Get shop"
    UPDATE_SHOP = "update_shop", "Update shop"


class JobStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    PAUSED = "paused", "Paused"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"
    EXPIRED = "expired", "Expired"


TERMINAL_JOB_STATUSES = frozenset(
    {JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.EXPIRED}
)


class JobPriority(models.IntegerChoices):
    CRITICAL = 1, "Critical"
    HIGH = 2, "High"
    NORMAL = 3, "Normal"
    LOW = 4, "Low"


class TaskStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    PROCESSING = "processing", "Processing"
    SUCCESS = "success", "Success"
    FAILED = "failed", "Failed"
    TIMEOUT = "timeout", "Timeout"
    CANCELLED = "cancelled", "Cancelled"


class TaskType(models.TextChoices):
    PLUGIN_HTTP = "plugin_http", "Through the browser extension"
    DIRECT_HTTP = "direct_http", "Direct HTTP"
    DB_OPERATION = "db_operation", "Database operation"
    FILE_OPERATION = "file_operation", "File operation"


class EventActor(models.TextChoices):
    USER = "user", "User"
    WORKER = "worker", "Worker"
    BEAT = "beat", "Beat"
    OPERATOR = "operator", "Operator"


class ListingStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    ACTIVE = "active", "Active"
    ENDED = "ended", "Ended"
    DELETED = "deleted", "Deleted"
