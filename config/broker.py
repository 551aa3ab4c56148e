"""A worker survives a Redis restart (issue 8).

Reproduced on kombu 5.7.0 with a threads-pool worker busy with acks_late tasks when Redis
restarts: the consumer's connection-loss handler first `collect()`s the connection (which sets
the transport's `client` to None), then closes it; closing the default channel restores its
unacknowledged messages, which needs a Redis pool, which is built from `transport.client`:
`AttributeError: 'NoneType' object has no attribute 'hostname'`. That is not one of the
connection errors `kombu.common.ignore_errors` swallows, so it escapes the consumer as an
"Unrecoverable error" and the worker process exits.

The Redis channel here raises a connection error in that state instead: the close is
best-effort anyway (Redis is down), the consumer's reconnect loop carries on, and the messages
stay in the unacked set, from which Redis redelivers them after the visibility timeout (and
beat re-sends lost triggers long before). scripts/supervise.py restarts a worker that dies for
any other reason.
"""

from typing import Any

from kombu.transport import redis as kombu_redis
from redis.exceptions import ConnectionError as RedisConnectionError

_original_connparams = kombu_redis.Channel._connparams


def _connparams(self: kombu_redis.Channel, asynchronous: bool = False) -> dict[str, Any]:
    if self.connection.client is None:
        raise RedisConnectionError("the broker connection was already collected")
    return _original_connparams(self, asynchronous=asynchronous)


def install() -> None:
    """Idempotent; called by config.celery before the app exists."""
    kombu_redis.Channel._connparams = _connparams  # type: ignore[method-assign]
