"""Redis clients that survive a Redis restart.

redis-py (8.x) makes a client from a URL with no retry: after Redis restarts, the first command
on each pooled connection fails on its dead socket ("Connection closed by server"), which once
closed an extension's socket and left jobs running until the stale-heartbeat limit. These
clients retry a connection or timeout error three times with a short jittered backoff (at
most ~1 s in all), so a stale connection is replaced transparently and a Redis that is really
down still fails fast, as a RedisError the callers classify."""

from typing import Any

import redis
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import ExponentialWithJitterBackoff
from redis.retry import Retry

RETRIES = 3
BACKOFF_BASE_S, BACKOFF_CAP_S = 0.05, 0.5


def _backoff() -> ExponentialWithJitterBackoff:
    return ExponentialWithJitterBackoff(base=BACKOFF_BASE_S, cap=BACKOFF_CAP_S)


def redis_from_url(url: str, **options: Any) -> redis.Redis:
    return redis.Redis.from_url(url, retry=Retry(_backoff(), RETRIES), **options)


def redis_from_host(host: dict[str, Any]) -> redis.Redis:
    """A client from a channels-redis host entry ({"address": url, …} or connection kwargs)."""
    options = dict(host)
    if "address" in options:
        return redis_from_url(options.pop("address"), **options)
    return redis.Redis(retry=Retry(_backoff(), RETRIES), **options)


def aioredis_from_host(host: dict[str, Any]) -> aioredis.Redis:
    options = dict(host)
    retry = AsyncRetry(_backoff(), RETRIES)
    if "address" in options:
        return aioredis.Redis.from_url(options.pop("address"), retry=retry, **options)
    return aioredis.Redis(retry=retry, **options)
