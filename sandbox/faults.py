"""Fault injection shared by the sandboxes.

A `FaultPlan` decides, for each marketplace request, whether the sandbox answers normally, answers
with an error, sleeps first, or drops the connection. Two kinds of faults exist:

* random rates (`error_rate`, `rate_limit_rate`, `drop_rate`) plus a fixed `latency_ms`, drawn
  from a seedable generator so that a benchmark run can be replayed;
* scripted one-shot rules ("the next N requests matching METHOD + path regex ..."), consumed in
  the order they were added, which tests use to put one precise fault on one precise call.

The plan is thread-safe: the server's handler threads call `decide()` while a test or the HTTP
control endpoint (`POST /__sandbox__/faults`) changes it.
"""

from __future__ import annotations

import random
import re
import threading
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class FaultAction(StrEnum):
    STATUS = "status"  # answer with `status` (and `body`, else the marketplace's error body)
    RATE_LIMIT = "rate_limit"  # answer 429 with a Retry-After header
    DROP_BEFORE = "drop_before"  # close the connection without handling the request
    DROP_AFTER = "drop_after"  # handle and commit, then close without answering: the lost answer
    DELAY = "delay"  # sleep `delay_ms`, then handle normally


class FaultConfigError(ValueError):
    """A fault setting or rule is invalid; the control endpoint answers 400 with its message."""


_RATE_SETTINGS = ("error_rate", "rate_limit_rate", "drop_rate")
_INT_SETTINGS = ("error_status", "retry_after", "latency_ms")
SETTINGS = (*_RATE_SETTINGS, *_INT_SETTINGS)


def _parse_action(value: Any) -> FaultAction:
    try:
        return FaultAction(value)
    except ValueError:
        choices = ", ".join(action.value for action in FaultAction)
        raise FaultConfigError(f"action must be one of: {choices}") from None


def _rate(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise FaultConfigError(f"{name} must be a number between 0 and 1")
    return float(value)


def _non_negative_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise FaultConfigError(f"{name} must be a non-negative integer")
    return value


def _error_status(name: str, value: Any) -> int:
    status = _non_negative_int(name, value)
    if not 400 <= status <= 599:
        raise FaultConfigError(f"{name} must be an HTTP error status (400-599)")
    return status


@dataclass
class FaultRule:
    """Applies `action` to the next `times` requests whose method and path match."""

    action: FaultAction
    path: str = ".*"
    method: str | None = None
    times: int = 1
    status: int | None = None
    body: Any = None
    retry_after: int | None = None
    delay_ms: int = 0
    _pattern: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.action = _parse_action(self.action)
        try:
            self._pattern = re.compile(self.path)
        except (re.error, TypeError) as exc:
            raise FaultConfigError(f"path is not a valid regular expression: {exc}") from None
        self.method = self.method.upper() if self.method else None
        if isinstance(self.times, bool) or not isinstance(self.times, int) or self.times < 1:
            raise FaultConfigError("times must be a positive integer")
        if self.action is FaultAction.STATUS:
            if self.status is None:
                raise FaultConfigError("a status rule needs a status")
            self.status = _error_status("status", self.status)
        if self.retry_after is not None:
            self.retry_after = _non_negative_int("retry_after", self.retry_after)
        self.delay_ms = _non_negative_int("delay_ms", self.delay_ms)

    @classmethod
    def from_dict(cls, data: Any) -> FaultRule:
        if not isinstance(data, Mapping):
            raise FaultConfigError("each rule must be a JSON object")
        allowed = {"action", "path", "method", "times", "status", "body", "retry_after", "delay_ms"}
        unknown = sorted(set(data) - allowed)
        if unknown:
            raise FaultConfigError(f"unknown rule field(s): {', '.join(unknown)}")
        if "action" not in data:
            raise FaultConfigError("a rule needs an action")
        return cls(**data)

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method == method) and bool(self._pattern.search(path))

    def to_dict(self) -> dict[str, Any]:
        return {
            "action": self.action.value,
            "path": self.path,
            "method": self.method,
            "times": self.times,
            "status": self.status,
            "body": self.body,
            "retry_after": self.retry_after,
            "delay_ms": self.delay_ms,
        }


@dataclass(frozen=True)
class FaultDecision:
    """What the server must do with one request; `action=None` means answer normally."""

    delay_s: float = 0.0
    action: FaultAction | None = None
    status: int | None = None
    body: Any = None
    retry_after: int | None = None


class FaultPlan:
    """Thread-safe fault settings and scripted rules for one sandbox server."""

    def __init__(
        self,
        *,
        error_rate: float = 0.0,
        error_status: int = 503,
        rate_limit_rate: float = 0.0,
        retry_after: int = 1,
        latency_ms: int = 0,
        drop_rate: float = 0.0,
        seed: int | None = None,
    ) -> None:
        self._lock = threading.Lock()
        self._rules: list[FaultRule] = []
        self._injected: Counter[str] = Counter()
        self._seed = seed
        self._random = random.Random(seed)
        self.error_rate = 0.0
        self.error_status = 503
        self.rate_limit_rate = 0.0
        self.retry_after = 1
        self.latency_ms = 0
        self.drop_rate = 0.0
        self.configure(
            error_rate=error_rate,
            error_status=error_status,
            rate_limit_rate=rate_limit_rate,
            retry_after=retry_after,
            latency_ms=latency_ms,
            drop_rate=drop_rate,
        )

    def configure(self, **settings: Any) -> None:
        """Change some settings; the others keep their value. Validates all before applying."""
        unknown = sorted(set(settings) - set(SETTINGS))
        if unknown:
            raise FaultConfigError(f"unknown fault setting(s): {', '.join(unknown)}")
        checked: dict[str, float | int] = {}
        for name, value in settings.items():
            if name in _RATE_SETTINGS:
                checked[name] = _rate(name, value)
            elif name == "error_status":
                checked[name] = _error_status(name, value)
            else:
                checked[name] = _non_negative_int(name, value)
        with self._lock:
            for name, value in checked.items():
                setattr(self, name, value)

    def reseed(self, seed: int | None) -> None:
        with self._lock:
            self._seed = seed
            self._random = random.Random(seed)

    def add_rule(
        self,
        action: FaultAction | str,
        path: str = ".*",
        *,
        method: str | None = None,
        times: int = 1,
        status: int | None = None,
        body: Any = None,
        retry_after: int | None = None,
        delay_ms: int = 0,
    ) -> FaultRule:
        """Script a fault for the next `times` requests matching `method` and `path` (re.search)."""
        rule = FaultRule(
            action=_parse_action(action),
            path=path,
            method=method,
            times=times,
            status=status,
            body=body,
            retry_after=retry_after,
            delay_ms=delay_ms,
        )
        with self._lock:
            self._rules.append(rule)
        return rule

    def apply(self, payload: Any) -> None:
        """Apply the JSON of `POST /__sandbox__/faults`: settings, optional `seed`, new `rules`."""
        if not isinstance(payload, Mapping):
            raise FaultConfigError("the body must be a JSON object")
        data = dict(payload)
        rules_data = data.pop("rules", [])
        seed_given = "seed" in data
        seed = data.pop("seed", None)
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise FaultConfigError("seed must be an integer or null")
        if not isinstance(rules_data, list):
            raise FaultConfigError("rules must be a list")
        rules = [FaultRule.from_dict(item) for item in rules_data]
        self.configure(**data)
        if seed_given:
            self.reseed(seed)
        with self._lock:
            self._rules.extend(rules)

    def clear(self) -> None:
        """Back to a healthy server: no rates, no latency, no pending rules (counters are kept)."""
        with self._lock:
            self._rules.clear()
            self.error_rate = self.rate_limit_rate = self.drop_rate = 0.0
            self.latency_ms = 0

    def reset(self) -> None:
        """`clear()` plus default statuses, fresh counters and a generator back at its seed."""
        self.clear()
        with self._lock:
            self.error_status, self.retry_after = 503, 1
            self._injected.clear()
            self._random = random.Random(self._seed)

    def decide(self, method: str, path: str) -> FaultDecision:
        """Consume the first matching rule, else draw the random faults, for one request."""
        with self._lock:
            delay_ms = self.latency_ms
            rule = self._take_rule(method.upper(), path)
            if rule is not None:
                self._injected[rule.action.value] += 1
                delay_ms += rule.delay_ms
                if rule.action is not FaultAction.DELAY:
                    return self._decision(delay_ms, rule.action, rule.status, rule.body, rule)
            action = self._draw()
            if action is not None:
                self._injected[action.value] += 1
            return self._decision(delay_ms, action, self.error_status, None, None)

    def _take_rule(self, method: str, path: str) -> FaultRule | None:
        for index, rule in enumerate(self._rules):
            if rule.matches(method, path):
                rule.times -= 1
                if rule.times == 0:
                    del self._rules[index]
                return rule
        return None

    def _draw(self) -> FaultAction | None:
        # One draw per request partitions [0, 1) between the fault kinds, so a seeded run gets
        # the same fault sequence whatever the mix of rates.
        if not (self.drop_rate or self.rate_limit_rate or self.error_rate):
            return None
        draw = self._random.random()
        for rate, action in (
            (self.drop_rate, FaultAction.DROP_BEFORE),
            (self.rate_limit_rate, FaultAction.RATE_LIMIT),
            (self.error_rate, FaultAction.STATUS),
        ):
            if draw < rate:
                return action
            draw -= rate
        return None

    def _decision(
        self,
        delay_ms: int,
        action: FaultAction | None,
        status: int | None,
        body: Any,
        rule: FaultRule | None,
    ) -> FaultDecision:
        retry_after = rule.retry_after if rule is not None else None
        if action is FaultAction.RATE_LIMIT:
            status = 429
            retry_after = self.retry_after if retry_after is None else retry_after
        elif action is not FaultAction.STATUS:
            status = None
        return FaultDecision(
            delay_s=delay_ms / 1000,
            action=action,
            status=status,
            body=body,
            retry_after=retry_after if status is not None else None,
        )

    def snapshot(self) -> dict[str, Any]:
        """Settings, pending rules and injected-fault counters, as served by the control API."""
        with self._lock:
            return {
                "error_rate": self.error_rate,
                "error_status": self.error_status,
                "rate_limit_rate": self.rate_limit_rate,
                "retry_after": self.retry_after,
                "latency_ms": self.latency_ms,
                "drop_rate": self.drop_rate,
                "seed": self._seed,
                "rules": [rule.to_dict() for rule in self._rules],
                "injected": dict(self._injected),
            }

    @property
    def injected(self) -> dict[str, int]:
        """How many faults of each action were applied so far."""
        with self._lock:
            return dict(self._injected)
