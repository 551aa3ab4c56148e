"""Every Celery queue, in one Enum. Jobs go to their marketplace's queue; priorities 1-2 go to
the marketplace's `.high` band, because priorities inside one Redis queue are only approximate:
https://docs.celeryq.dev/en/stable/userguide/routing.html#redis-message-priorities"""

from enum import StrEnum


class CeleryQueue(StrEnum):
    DEFAULT = "default"
    MAINTENANCE = "maintenance"
    EBAY = "ebay"
    EBAY_HIGH = "ebay.high"
    ETSY = "etsy"
    ETSY_HIGH = "etsy.high"
    VINTED = "vinted"
    VINTED_HIGH = "vinted.high"


HIGH_PRIORITY_MAX = 2


def queue_for_job(*, marketplace: str, priority: int) -> CeleryQueue:
    name = f"{marketplace}.high" if priority <= HIGH_PRIORITY_MAX else marketplace
    return CeleryQueue(name)
