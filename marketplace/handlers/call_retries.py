"""Each safe call gets its own attempts (DESIGN §3: "attempts are budgeted per step (each
marketplace call)"; issue 8 §8).

A read that meets a transient error (5xx, 408, 429, a network error) is repeated here, after a
short jittered backoff, up to RELIST_SAFE_CALL_RETRIES times. A write is never repeated here:
its answer may have been lost after it was applied, so it fails its step, which the engine
retries with backoff and the handler reconciles first (by SKU or the [ref:SKU] marker). Without
this, the lookup that reconciles a lost create spent the create step's own budget: at 30 % 5xx,
most Etsy and Vinted failures were on those lookups."""

import random
import time
from collections.abc import Callable
from typing import TypeVar

from django.conf import settings

from core.errors import TransientMarketplaceError, is_ambiguous

T = TypeVar("T")
BASE_S = 0.2


def backoff_s(retry: int, *, retry_after: float | None) -> float:
    cap = float(settings.RELIST_SAFE_CALL_BACKOFF_CAP_S)
    if retry_after is not None:
        return retry_after
    return random.uniform(0, min(cap, BASE_S * 2**retry))


def call_with_retries(method: str, call: Callable[[], T]) -> T:
    """`call()`, repeated on a transient error when `method` is safe. A Retry-After longer
    than the backoff cap is not waited inline: the error goes to the step (and the engine's
    backoff honours it)."""
    retries = 0 if is_ambiguous(method) else int(settings.RELIST_SAFE_CALL_RETRIES)
    for retry in range(retries + 1):
        try:
            return call()
        except TransientMarketplaceError as error:
            wait = backoff_s(retry, retry_after=error.retry_after)
            if retry == retries or wait > float(settings.RELIST_SAFE_CALL_BACKOFF_CAP_S):
                raise
            time.sleep(wait)
    raise AssertionError("unreachable: the last try returns or raises")
