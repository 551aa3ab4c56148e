"""One asyncio loop per process, in a daemon thread, for sync code that talks to the channel
layer (workers relaying Vinted commands, live updates). Keeping one loop keeps channels-redis'
connection pool alive between calls; asgiref's async_to_sync would build a loop per call."""

import asyncio
import logging
import os
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

logger = logging.getLogger(__name__)
T = TypeVar("T")


class BackgroundLoop:
    def __init__(self) -> None:
        self.pid = os.getpid()
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, name="background-loop", daemon=True).start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float) -> T:
        """The coroutine's result; TimeoutError after `timeout` s, and then the coroutine is
        cancelled (it never goes on running for a caller that left). Callers that must not
        leak TimeoutError translate it (the Vinted relay raises TransientMarketplaceError)."""
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return future.result(timeout)
        except TimeoutError:
            future.cancel()
            raise

    def submit(self, coro: Coroutine[Any, Any, Any]) -> None:
        """Fire and forget: failures are logged, never raised to the caller."""
        asyncio.run_coroutine_threadsafe(coro, self.loop).add_done_callback(_log_failure)


def _log_failure(future: Any) -> None:
    if not future.cancelled() and future.exception() is not None:
        logger.warning("background_loop.failed", exc_info=future.exception())


_lock = threading.Lock()
_current: BackgroundLoop | None = None


def background_loop() -> BackgroundLoop:
    """The process's loop, re-created after a fork (prefork pool children)."""
    global _current
    with _lock:
        if _current is None or _current.pid != os.getpid():
            _current = BackgroundLoop()
        return _current
