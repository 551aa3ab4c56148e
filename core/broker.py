"""kombu's Redis transport with one change: a channel reuses one synchronous Redis client.

kombu builds a new `redis.Redis` around its connection pool for every acknowledgement and every
delivered message's bookkeeping (`QoS.ack` and `QoS.append` through `Channel.conn_or_acquire`).
With redis-py 8 each construction costs more than the two commands it sends: py-spy on the
eBay worker of the engine bench's latency run (threads x 32) put 12 % of the time the process
held the GIL in `Redis.__init__`, on the consumer thread that every task waits on
(docs/performance.md). A client is only a handle on the pool (each command takes a connection
from it), so one per pool serves every caller; a new pool (kombu makes one after a fork or a
lost connection) gets a new client. Everything else is kombu's own.

Named by `CELERY_BROKER_TRANSPORT` for `redis://` broker URLs (config/settings/celery.py)."""

from typing import Any

from kombu.transport import redis as kombu_redis


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
