"""Which worker processes are alive, so a dead worker's running jobs are recovered in seconds
instead of after the stale-heartbeat limit.

Each worker process that claims jobs keeps a Redis key alive from a daemon thread (refreshed
every RELIST_WORKER_ALIVE_EVERY_S, expiring after three periods) and stamps its identity on the
jobs it claims (`claimed_by`). The thread runs whatever the job threads are doing, so a process
blocked in a long marketplace call still counts as alive: only a dead process (SIGKILL, a
machine gone) lets its key expire. If Redis itself lost its memory (a restart), every key is
missing at once; the sweep notices (its own marker key is gone) and trusts absence again only
after a full expiry period, when every live process has written its key back."""

import logging
import os
import socket
import threading
import time

import redis
from django.conf import settings

from marketplace.services.ratelimit import redis_client

logger = logging.getLogger(__name__)

ALIVE_KEY = "relist:worker:alive:{ident}"
SINCE_KEY = "relist:worker:alive-since"
_started_pid: int | None = None
_lock = threading.Lock()


def process_ident() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _period() -> float:
    return float(settings.RELIST_WORKER_ALIVE_EVERY_S)


def ttl_s() -> float:
    return 3 * _period()


def _beat_forever(ident: str) -> None:
    key = ALIVE_KEY.format(ident=ident)
    while True:
        try:
            redis_client().set(key, "1", px=int(ttl_s() * 1000))
        except redis.RedisError:
            logger.warning("worker.alive_write_failed", extra={"ident": ident})
        time.sleep(_period())


def liveness_ensure_started() -> str:
    """Start this process's keep-alive thread once (again after a fork); returns its ident."""
    global _started_pid  # one keep-alive thread per process
    pid = os.getpid()
    if _started_pid != pid:
        with _lock:
            if _started_pid != pid:
                ident = process_ident()
                redis_client().set(ALIVE_KEY.format(ident=ident), "1", px=int(ttl_s() * 1000))
                threading.Thread(
                    target=_beat_forever, args=(ident,), name="relist-alive", daemon=True
                ).start()
                _started_pid = pid
    return process_ident()


def dead_claimers(idents: set[str]) -> set[str]:
    """The idents among `idents` whose process is known to be dead (its key expired). Empty
    while absence cannot be trusted (Redis lost its keys less than one expiry period ago)."""
    if not idents:
        return set()
    client = redis_client()
    now = time.time()
    since = client.get(SINCE_KEY)
    if since is None:
        client.set(SINCE_KEY, str(now), nx=True)
        return set()
    if now - float(since) < ttl_s():
        return set()
    ordered = sorted(idents)
    pipe = client.pipeline()
    for ident in ordered:
        pipe.exists(ALIVE_KEY.format(ident=ident))
    return {ident for ident, alive in zip(ordered, pipe.execute(), strict=True) if not alive}
