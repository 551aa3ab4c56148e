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

The transport (`Transport`, named by CELERY_BROKER_TRANSPORT for redis:// URLs) is kombu's own
with one change: a channel reuses one synchronous Redis client per connection pool. kombu builds
a new `redis.Redis` around its pool for every acknowledgement and every delivered message's
bookkeeping (`QoS.ack` and `QoS.append` through `Channel.conn_or_acquire`); with redis-py 8 each
construction costs more than the commands it sends. py-spy on the eBay worker of the engine
bench's latency run (threads x 32) put 12 % of the time the process held the GIL in
`Redis.__init__`, on the consumer thread that every task waits on (docs/performance.md). A
client is only a handle on the pool (each command takes a connection from it), so one per pool
serves every caller; a new pool (after a fork or a lost connection) gets a new client.
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


class Channel(kombu_redis.Channel):
    _sync_client: tuple[Any, Any] | None = None

    def _create_client(self, asynchronous: bool = False) -> Any:
        if asynchronous:
            return super()._create_client(asynchronous=True)
        pool = self.pool
        cached = self._sync_client
        if cached is None or cached[0] is not pool:
            cached = self._sync_client = (pool, super()._create_client())
        return cached[1]


class Transport(kombu_redis.Transport):
    Channel = Channel
