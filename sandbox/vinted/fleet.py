"""Many simulators on one loop in one thread, for benchmarks and multi-tenant demos."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Self

from sandbox.vinted.runner import LoopThread
from sandbox.vinted.simulator import ExtensionSimulator

__all__ = ["SimulatorFleet"]


class SimulatorFleet:
    """K simulators (one per tenant or per tab) served by a single asyncio loop thread."""

    def __init__(self, simulators: Iterable[ExtensionSimulator]) -> None:
        self.simulators = list(simulators)
        self._runner: LoopThread | None = None

    @classmethod
    def build(
        cls,
        url: str,
        tokens: Sequence[str],
        *,
        hosts: Sequence[str | None] | None = None,
        seed: int | None = None,
        **options: Any,
    ) -> Self:
        """One simulator per token (own account, own seed), `hosts[i]` as its Host header."""
        if hosts is not None and len(hosts) != len(tokens):
            raise ValueError("hosts must match tokens one to one")
        return cls(
            ExtensionSimulator(
                url,
                token,
                host=hosts[index] if hosts is not None else None,
                seed=None if seed is None else seed + index,
                name=f"sim-{index}",
                **options,
            )
            for index, token in enumerate(tokens)
        )

    def start(self, timeout: float = 10.0) -> Self:
        """Return once every simulator is authenticated; on any failure stop all and raise it."""
        self._runner = LoopThread(self.simulators, name=f"vinted-fleet:{len(self.simulators)}")
        self._runner.start(timeout)
        return self

    def stop(self, timeout: float = 5.0) -> None:
        if self._runner is not None:
            self._runner.stop(timeout)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __iter__(self) -> Iterator[ExtensionSimulator]:
        return iter(self.simulators)

    def __len__(self) -> int:
        return len(self.simulators)

    def __getitem__(self, index: int) -> ExtensionSimulator:
        return self.simulators[index]
