"""Every Celery queue, in one Enum. Jobs go to their marketplace's queue; priorities 1-2 go to
the marketplace's `.high` band, because priorities inside one Redis queue are only approximate:
https://docs.celeryq.dev/en/stable/userguide/routing.html#redis-message-priorities"""

from enum import StrEnum
from typing import Any


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


def broker_lists(channel: Any, queue: str) -> list[str]:
    """The Redis lists kombu keeps for `queue`: one per priority step (`queue` itself for step
    0, `queue\\x06\\x16<step>` for the others), named by the transport's own rule; a transport
    without priority lists has just the queue."""
    steps = getattr(channel, "priority_steps", [0])
    if not hasattr(channel, "_q_for_pri"):
        return [queue]
    return list(dict.fromkeys(channel._q_for_pri(queue, step) for step in steps))
