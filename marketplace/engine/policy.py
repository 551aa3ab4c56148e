"""The retry policy, in one module: which failures are worth retrying, how long to wait, and how
many attempts a step and a job may spend (DESIGN §3).

Every knob is a setting, read when it is used (so a test or an operator changing one sees the
delay change): `RELIST_RETRY_BACKOFF_SCALE_S`, `RELIST_RETRY_BACKOFF_CAP_S`,
`RELIST_JOB_ATTEMPTS_FACTOR`. Backoff is exponential with full jitter, capped:
https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/"""

import random
from dataclasses import dataclass

from django.conf import settings

from core.errors import SAFE_METHODS, is_ambiguous, is_retryable_status

# Which failures are transient is decided in core.errors (the clients below the engine ask it
# too); re-exported here so the whole policy reads from one module.
__all__ = [
    "SAFE_METHODS",
    "Budget",
    "backoff_delay",
    "exhausted_message",
    "is_ambiguous",
    "is_retryable_status",
]


def backoff_delay(*, attempts: int, retry_after: float | None = None) -> float:
    """uniform(0, min(cap, scale × 2^attempts)) seconds; a server's Retry-After is a floor and
    the cap the ceiling (Celery's countdown must stay well under the broker's visibility
    timeout)."""
    scale = float(settings.RELIST_RETRY_BACKOFF_SCALE_S)
    cap = float(settings.RELIST_RETRY_BACKOFF_CAP_S)
    ceiling = min(cap, scale * 2 ** max(attempts, 1))
    delay = random.uniform(0, ceiling)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return min(delay, cap)


@dataclass(frozen=True, slots=True)
class Budget:
    """What a transient failure may still spend.

    Each step (one marketplace call) gets `max_retries` retries of its own, so a job of three
    calls at 30 % 5xx is not failed by the sum of its calls' bad luck; the job's total number of
    runs is bounded by `max_retries × RELIST_JOB_ATTEMPTS_FACTOR + 1`, so a job can never
    loop for ever between its steps."""

    max_retries: int

    @property
    def job_total(self) -> int:
        return self.max_retries * int(settings.RELIST_JOB_ATTEMPTS_FACTOR) + 1

    def exhausted(self, *, step_attempts: int, job_attempts: int) -> bool:
        return step_attempts > self.max_retries or job_attempts >= self.job_total


def exhausted_message(*, max_retries: int, message: str) -> str:
    return f"Max retries ({max_retries}) exceeded: {message}"
