"""Live updates: job and batch changes pushed to the tenant's subscribers (`/ws/live/`).

Publishing must not slow the workers: it is skipped entirely while the tenant has no
subscriber (a Redis counter, read at most once a second per process), happens after commit, and
is fire-and-forget on the process's background loop."""

import logging
import time
from typing import Any

from channels.layers import get_channel_layer
from django.db import connection, transaction
from redis.exceptions import RedisError

from batches.models import BatchJob
from core.background_loop import background_loop
from marketplace.models import MarketplaceJob
from marketplace.services.ratelimit import redis_client

logger = logging.getLogger(__name__)

# channel name -> last seen (epoch s). A subscriber that stops refreshing (its web process
# crashed) falls out after SUBSCRIBER_TTL_S, so publishing never goes on forever for nobody.
SUBSCRIBERS = "relist:live:subscriber-set:{schema}"
SUBSCRIBER_TTL_S = 90
_CACHE_S = 1.0
_subscribed: dict[str, tuple[float, bool]] = {}


def live_group(schema: str) -> str:
    return f"live.{schema}"


def subscriber_seen(schema: str, channel: str) -> None:
    """On subscribe and on every refresh of the socket."""
    redis_client().zadd(SUBSCRIBERS.format(schema=schema), {channel: time.time()})


def subscriber_removed(schema: str, channel: str) -> None:
    redis_client().zrem(SUBSCRIBERS.format(schema=schema), channel)


def has_subscribers(schema: str) -> bool:
    now = time.monotonic()
    cached = _subscribed.get(schema)
    if cached is not None and now - cached[0] < _CACHE_S:
        return cached[1]
    key = SUBSCRIBERS.format(schema=schema)
    client = redis_client()
    try:
        client.zremrangebyscore(key, 0, time.time() - SUBSCRIBER_TTL_S)
        live = client.zcard(key) > 0
    except RedisError:  # live updates are best effort: never fail the job's transition
        logger.warning("live.subscribers_unknown", extra={"tenant": schema})
        live = False
    _subscribed[schema] = (now, live)
    return live


def job_event(job: MarketplaceJob) -> dict[str, Any]:
    return {
        "kind": "job",
        "id": job.pk,
        "marketplace": job.marketplace,
        "status": job.status,
        "status_reason": job.status_reason,
        "attempts": job.attempts,
        "batch": job.batch_id,
        "error_message": job.error_message,
    }


def batch_event(batch: BatchJob) -> dict[str, Any]:
    return {
        "kind": "batch",
        "id": batch.pk,
        "batch_id": batch.batch_id,
        "status": batch.status,
        "total_count": batch.total_count,
        "completed_count": batch.completed_count,
        "failed_count": batch.failed_count,
        "cancelled_count": batch.cancelled_count,
        "expired_count": batch.expired_count,
        "progress_percent": batch.progress_percent,
    }


def live_job_changed(job: MarketplaceJob) -> None:
    """Call inside the transition's transaction; publishes after commit."""
    schema = connection.schema_name
    if not has_subscribers(schema):
        return
    event = job_event(job)
    batch_id = job.batch_id
    transaction.on_commit(lambda: _publish_job_and_batch(schema, event, batch_id))


def live_batch_changed(batch_id: int) -> None:
    schema = connection.schema_name
    if has_subscribers(schema):
        transaction.on_commit(lambda: _publish_job_and_batch(schema, None, batch_id))


def _publish_job_and_batch(schema: str, event: dict[str, Any] | None, batch_id: int | None) -> None:
    events = [event] if event else []
    if batch_id is not None and (batch := BatchJob.objects.filter(pk=batch_id).first()):
        events.append(batch_event(batch))
    for item in events:
        _send(schema, item)


def live_send(schema: str, event: dict[str, Any]) -> None:
    """Fire-and-forget one event to the tenant's subscribers (after commit, by the caller)."""
    _send(schema, event)


def _send(schema: str, event: dict[str, Any]) -> None:
    layer = get_channel_layer()
    message = {"type": "live.event", "event": event}
    background_loop().submit(layer.group_send(live_group(schema), message))
