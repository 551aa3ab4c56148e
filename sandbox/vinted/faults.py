"""Fault injection for the Vinted extension simulator.

Self-contained on purpose: the HTTP sandboxes have their own fault module, but the extension fails
in ways HTTP servers cannot (a missing ack, a socket dropped after Vinted applied the change), so
the two stay separate.

A plan holds one-shot (or n-shot) scripted rules matched by method and path regex, checked first
in insertion order, then seeded random rates. Every method takes the plan's lock, so tests and the
demo may change it from any thread while the simulator's loop reads it.
"""

from __future__ import annotations

import random
import re
import threading
from dataclasses import dataclass, field
from enum import StrEnum
from http import HTTPStatus
from typing import Any

__all__ = ["Fault", "FaultKind", "FaultPlan", "FaultRule"]


class FaultKind(StrEnum):
    ERROR = "error"  # answer ok:false with a status, without applying the call
    SLOW = "slow"  # wait delay_ms after the ack, then run the call normally
    NO_ACK = "no_ack"  # swallow the command: no ack, no result (a hung tab)
    DROP_BEFORE_ACK = "drop_before_ack"  # kill the socket before acking (tab closed)
    DROP_AFTER_COMMIT = "drop_after_commit"  # apply the call, kill the socket: a lost answer


@dataclass(frozen=True)
class Fault:
    kind: FaultKind
    status: int = 500
    error: str | None = None
    body: Any = None
    delay_ms: int = 0
    headers: dict[str, str] | None = None

    @classmethod
    def error_status(
        cls, status: int = 500, *, error: str | None = None, body: Any = None
    ) -> Fault:
        """An HTTP error from Vinted; status 0 stands for a network failure inside the browser."""
        message = error or _phrase(status)
        if body is None and status:
            body = {"code": status, "message": message}
        return cls(FaultKind.ERROR, status=status, error=message, body=body)

    @classmethod
    def rate_limited(cls, retry_after_s: int = 1) -> Fault:
        # The extension forwards Retry-After in the result's optional "headers" so the back end
        # can honour it (DESIGN §3: 429 is retryable with Retry-After).
        return cls(
            FaultKind.ERROR,
            status=429,
            error="Too Many Requests",
            body={"code": 429, "message": "Too Many Requests"},
            headers={"Retry-After": str(retry_after_s)},
        )

    @classmethod
    def datadome_block(cls) -> Fault:
        # DataDome answers a blocked XHR with 403 and a JSON body holding the captcha URL.
        captcha = "https://geo.captcha-delivery.com/captcha/?initialCid=sim&hash=sim&cid=sim"
        return cls(FaultKind.ERROR, status=403, error="blocked by DataDome", body={"url": captcha})

    @classmethod
    def network_error(cls, error: str = "net::ERR_CONNECTION_RESET") -> Fault:
        return cls(FaultKind.ERROR, status=0, error=error, body=None)

    @classmethod
    def slow(cls, delay_ms: int) -> Fault:
        return cls(FaultKind.SLOW, delay_ms=delay_ms)

    @classmethod
    def no_ack(cls) -> Fault:
        return cls(FaultKind.NO_ACK)

    @classmethod
    def drop_before_ack(cls) -> Fault:
        return cls(FaultKind.DROP_BEFORE_ACK)

    @classmethod
    def drop_after_commit(cls) -> Fault:
        return cls(FaultKind.DROP_AFTER_COMMIT)


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:  # status 0 (browser-side failure) or a non-standard code
        return "network error" if status == 0 else f"HTTP {status}"


@dataclass
class FaultRule:
    fault: Fault
    method: str | None = None  # None matches any method
    path: re.Pattern[str] = field(default_factory=lambda: re.compile(".*"))
    times: int | None = 1  # None: fires forever

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method != method.upper():
            return False
        return self.path.search(path) is not None


@dataclass(frozen=True)
class FiredFault:
    method: str
    path: str
    kind: FaultKind


# Order in which one random roll is split between the rates; fixed so a seed replays exactly.
_RATE_ORDER = (
    FaultKind.ERROR,
    FaultKind.SLOW,
    FaultKind.NO_ACK,
    FaultKind.DROP_BEFORE_ACK,
    FaultKind.DROP_AFTER_COMMIT,
)


class FaultPlan:
    """Which fault, if any, the next command suffers, plus a global latency."""

    def __init__(
        self,
        *,
        seed: int | None = None,
        latency_ms: int = 0,
        error_rate: float = 0.0,
        error_status: int = 500,
        slow_rate: float = 0.0,
        slow_ms: int = 1000,
        no_ack_rate: float = 0.0,
        drop_before_ack_rate: float = 0.0,
        drop_after_commit_rate: float = 0.0,
    ) -> None:
        self._lock = threading.Lock()
        self._random = random.Random(seed)
        self._rules: list[FaultRule] = []
        self._rates: dict[FaultKind, float] = {}
        self._latency_ms = 0
        self._error_status = error_status
        self._slow_ms = slow_ms
        self.fired: list[FiredFault] = []
        self.latency_ms = latency_ms
        self.set_rates(
            error=error_rate,
            slow=slow_rate,
            no_ack=no_ack_rate,
            drop_before_ack=drop_before_ack_rate,
            drop_after_commit=drop_after_commit_rate,
        )

    @property
    def latency_ms(self) -> int:
        with self._lock:
            return self._latency_ms

    @latency_ms.setter
    def latency_ms(self, value: int) -> None:
        if value < 0:
            raise ValueError("latency_ms must be >= 0")
        with self._lock:
            self._latency_ms = value

    def set_rates(
        self,
        *,
        error: float | None = None,
        slow: float | None = None,
        no_ack: float | None = None,
        drop_before_ack: float | None = None,
        drop_after_commit: float | None = None,
        error_status: int | None = None,
        slow_ms: int | None = None,
    ) -> None:
        """Change random rates (probability per command); arguments left None keep their value."""
        given = {
            FaultKind.ERROR: error,
            FaultKind.SLOW: slow,
            FaultKind.NO_ACK: no_ack,
            FaultKind.DROP_BEFORE_ACK: drop_before_ack,
            FaultKind.DROP_AFTER_COMMIT: drop_after_commit,
        }
        with self._lock:
            rates = dict(self._rates)
            rates.update({kind: rate for kind, rate in given.items() if rate is not None})
            if any(not 0.0 <= rate <= 1.0 for rate in rates.values()) or sum(rates.values()) > 1.0:
                raise ValueError("fault rates must each be in [0, 1] and sum to at most 1")
            self._rates = rates
            if error_status is not None:
                self._error_status = error_status
            if slow_ms is not None:
                self._slow_ms = slow_ms

    def add(
        self, fault: Fault, *, method: str | None = None, path: str = ".*", times: int | None = 1
    ) -> FaultRule:
        """Script a fault for the next `times` commands matching method and path (regex search)."""
        rule = FaultRule(
            fault=fault,
            method=method.upper() if method else None,
            path=re.compile(path),
            times=times,
        )
        with self._lock:
            self._rules.append(rule)
        return rule

    def clear(self) -> None:
        """Drop scripted rules and zero the rates and latency (the fired log is kept)."""
        with self._lock:
            self._rules.clear()
            self._rates = dict.fromkeys(_RATE_ORDER, 0.0)
            self._latency_ms = 0

    @property
    def pending_rules(self) -> int:
        with self._lock:
            return len(self._rules)

    def pick(self, method: str, path: str) -> Fault | None:
        """The fault for this command, consuming a scripted rule if one matches."""
        with self._lock:
            fault = self._pick_scripted(method, path) or self._pick_random()
            if fault is not None:
                self.fired.append(FiredFault(method.upper(), path, fault.kind))
            return fault

    def _pick_scripted(self, method: str, path: str) -> Fault | None:
        for index, rule in enumerate(self._rules):
            if not rule.matches(method, path):
                continue
            if rule.times is not None:
                rule.times -= 1
                if rule.times <= 0:
                    del self._rules[index]
            return rule.fault
        return None

    def _pick_random(self) -> Fault | None:
        if not any(self._rates.values()):
            return None  # don't consume randomness: keeps seeded sequences stable when off
        roll = self._random.random()
        threshold = 0.0
        for kind in _RATE_ORDER:
            threshold += self._rates.get(kind, 0.0)
            if roll < threshold:
                return self._random_fault(kind)
        return None

    def _random_fault(self, kind: FaultKind) -> Fault:
        if kind is FaultKind.ERROR:
            return Fault.error_status(self._error_status)
        if kind is FaultKind.SLOW:
            return Fault.slow(self._slow_ms)
        return Fault(kind)
