"""Per-IP throttle for every request, authenticated or not (DRF's AnonRateThrottle skips
authenticated users, UserRateThrottle counts them by user): one client address cannot spread
its load over many tokens."""

from typing import Any

from rest_framework.throttling import SimpleRateThrottle


class ClientIPRateThrottle(SimpleRateThrottle):
    scope = "ip"

    def get_cache_key(self, request: Any, view: Any) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
