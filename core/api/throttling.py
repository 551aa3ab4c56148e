"""The API's general throttle: per user (when authenticated) and per client IP, both counted in
the shared Redis in one round trip.

DRF's own throttles keep a list of timestamps per client, read and written back whole (two round
trips each, per scope, per request). Here each scope is a counter per fixed window (INCR and
EXPIRE, pipelined): the same limits for a fraction of the cost on the hot path, at the price of
allowing up to twice the rate across a window boundary. Rates are DRF's DEFAULT_THROTTLE_RATES
(`user`, `ip`); over a rate the answer is 429 with Retry-After (the end of the window).
"""

import time
from functools import cache
from typing import Any

import redis
from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle

from core.redis_clients import redis_from_url

SCOPES = ("user", "ip")


@cache
def _redis() -> redis.Redis:
    return redis_from_url(settings.REDIS_URL)


class ClientRateThrottle(SimpleRateThrottle):
    def __init__(self) -> None:  # rates are read per request (tests and settings change them)
        self._wait = 0.0

    def get_cache_key(self, request: Any, view: Any) -> str | None:  # unused: see allow_request
        return None

    def _idents(self, request: Any) -> dict[str, str]:
        idents = {"ip": self.get_ident(request)}
        if request.user and request.user.is_authenticated:
            idents["user"] = str(request.user.pk)
        return idents

    def allow_request(self, request: Any, view: Any) -> bool:
        now = time.time()
        limits = []
        pipe = _redis().pipeline(transaction=False)
        for scope, ident in self._idents(request).items():
            num, duration = self.parse_rate(self.THROTTLE_RATES.get(scope))
            if num is None:
                continue
            key = f"relist:throttle:{scope}:{ident}:{int(now // duration)}"  # type: ignore[operator]
            pipe.incr(key)
            pipe.expire(key, duration + 1)  # type: ignore[operator]
            limits.append((num, duration))
        if not limits:
            return True
        counts = pipe.execute()[::2]
        over = [
            duration - now % duration  # type: ignore[operator]
            for (num, duration), count in zip(limits, counts, strict=True)
            if count > num
        ]
        self._wait = max(over, default=0.0)
        return not over

    def wait(self) -> float:
        return self._wait
