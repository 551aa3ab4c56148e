"""Run simulators on a private asyncio loop in a daemon thread, for synchronous callers.

pytest, Celery-side tests and the demo are synchronous; they need the simulators authenticated
before they go on, and a clean close plus a joined thread when they are done. Several simulators
share one loop (benchmarks run hundreds: a thread each would cost more than the sockets).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sandbox.vinted.simulator import ExtensionSimulator

__all__ = ["LoopThread"]

logger = logging.getLogger(__name__)


class LoopThread:
    """One thread, one event loop, each simulator's `run()` as a task."""

    def __init__(self, simulators: Sequence[ExtensionSimulator], *, name: str) -> None:
        if not simulators:
            raise ValueError("at least one simulator is needed")
        self.simulators = list(simulators)
        self.thread = threading.Thread(target=self._main, name=name, daemon=True)

    def start(self, timeout: float) -> None:
        """Return once every simulator is authenticated; raise (and stop them all) otherwise."""
        self.thread.start()
        deadline = time.monotonic() + timeout
        for sim in self.simulators:
            if not sim.ready.wait(max(0.0, deadline - time.monotonic())):
                self.stop()
                raise TimeoutError(f"{sim.name}: not authenticated within {timeout} s")
            if sim.failure is not None:
                self.stop()
                raise sim.failure
            if sim.session_id is None:
                self.stop()
                raise RuntimeError(f"{sim.name}: stopped before authenticating")

    def stop(self, timeout: float = 5.0) -> None:
        for sim in self.simulators:
            sim.request_stop()
        if threading.current_thread() is not self.thread:
            self.thread.join(timeout)
            if self.thread.is_alive():
                logger.warning(
                    "vinted_sim.thread_not_joined", extra={"thread_name": self.thread.name}
                )

    def _main(self) -> None:
        asyncio.run(self._run_all())

    async def _run_all(self) -> None:
        results = await asyncio.gather(
            *(sim.run() for sim in self.simulators), return_exceptions=True
        )
        for sim, result in zip(self.simulators, results, strict=True):
            # run() already recorded the failure on the simulator, where start() reports it.
            if isinstance(result, BaseException):
                logger.debug(
                    "vinted_sim.run_failed", extra={"sim": sim.name, "error": repr(result)}
                )
