"""The HTTP client every direct marketplace (eBay, Etsy) builds on.

It owns what is common to both: a keep-alive session per thread, timeouts, the shared rate limit,
the error classes of DESIGN §3 (5xx/408/429/network → transient; other 4xx → permanent, with the
marketplace's own message) and "a 401 refreshes the token once and repeats the call"."""

import email.utils
import threading
import time
from datetime import UTC, datetime
from typing import Any, ClassVar, Protocol, cast

import requests
from django.conf import settings

from core import metrics
from core.errors import (
    MarketplaceAuthError,
    PermanentMarketplaceError,
    TransientMarketplaceError,
    is_ambiguous,
    is_retryable_status,
)
from marketplace.handlers.call_retries import call_with_retries

_sessions = threading.local()


class Credentials(Protocol):
    def access_token(self) -> str: ...

    def refresh(self, *, stale_token: str) -> str: ...


class RateLimiter(Protocol):
    def acquire(self) -> None: ...


def session_for(base_url: str) -> requests.Session:
    """One pooled keep-alive session per thread and host (requests.Session is not
    thread-safe: https://github.com/psf/requests/issues/2766)."""
    cache: dict[str, requests.Session] = getattr(_sessions, "by_base", None) or {}
    _sessions.by_base = cache
    if base_url not in cache:
        session = requests.Session()
        # Marketplace hosts are configured settings, never reached through an environment
        # proxy or .netrc: skipping that lookup saves an os.environ scan on every call.
        session.trust_env = False
        cache[base_url] = session
    return cache[base_url]


def retry_after_seconds(value: str | None) -> float | None:
    """Retry-After is either delta-seconds or an HTTP date (RFC 9110 §10.2.3)."""
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None  # unreadable: fall back to our own backoff rather than crash the step
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return max((parsed - datetime.now(UTC)).total_seconds(), 0.0)


class MarketplaceHttpClient:
    marketplace: ClassVar[str]

    def __init__(
        self,
        *,
        base_url: str,
        credentials: Credentials,
        rate_limiter: RateLimiter | None = None,
        timeout: tuple[float, float] | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.credentials = credentials
        self.rate_limiter = rate_limiter
        self.timeout = timeout or settings.MARKETPLACE_HTTP_TIMEOUT

    # --- per marketplace -------------------------------------------------------------------

    def auth_headers(self, token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    def error_message(self, response: requests.Response) -> str:
        return response.text[:500] or response.reason

    # --- shared ----------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> requests.Response:
        """Send one call; a 401 refreshes the token once and repeats it; a read that meets a
        transient error is repeated a few times (handlers.call_retries)."""
        return call_with_retries(
            method, lambda: self._request_once(method, path, headers=headers, **kwargs)
        )

    def _request_once(
        self, method: str, path: str, *, headers: dict[str, str] | None, **kwargs: Any
    ) -> requests.Response:
        token = self.credentials.access_token()
        response = self._send(method, path, token=token, headers=headers, **kwargs)
        if response.status_code == 401:
            token = self.credentials.refresh(stale_token=token)
            response = self._send(method, path, token=token, headers=headers, **kwargs)
            if response.status_code == 401:
                raise MarketplaceAuthError(
                    f"{self.marketplace} refused the refreshed token: "
                    f"{self.error_message(response)}",
                    status=401,
                )
        return self.checked(response, method=method, path=path)

    def json(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        response = self.request(method, path, **kwargs)
        if response.status_code == 204 or not response.content:
            return {}
        return cast("dict[str, Any]", response.json())

    def _send(
        self,
        method: str,
        path: str,
        *,
        token: str,
        headers: dict[str, str] | None,
        **kwargs: Any,
    ) -> requests.Response:
        if self.rate_limiter is not None:
            self.rate_limiter.acquire()
        all_headers = {**self.auth_headers(token), **(headers or {})}
        url = f"{self.base_url}{path}"
        started = time.perf_counter()
        try:
            response = session_for(self.base_url).request(
                method, url, headers=all_headers, timeout=self.timeout, **kwargs
            )
        except (requests.ConnectionError, requests.Timeout) as error:
            metrics.record_marketplace_call(
                marketplace=self.marketplace,
                status=type(error).__name__,
                duration_s=time.perf_counter() - started,
            )
            # A write whose answer was lost may have been applied: the caller reconciles.
            raise TransientMarketplaceError(
                f"{self.marketplace} {method} {path}: {type(error).__name__}",
                ambiguous=is_ambiguous(method),
            ) from error
        metrics.record_marketplace_call(
            marketplace=self.marketplace,
            status=response.status_code,
            duration_s=time.perf_counter() - started,
        )
        return response

    def checked(self, response: requests.Response, *, method: str, path: str) -> requests.Response:
        status = response.status_code
        if status < 400:
            return response
        message = f"{self.marketplace} {method} {path} → {status}: {self.error_message(response)}"
        if is_retryable_status(status):
            raise TransientMarketplaceError(
                message,
                status=status,
                retry_after=retry_after_seconds(response.headers.get("Retry-After")),
            )
        raise PermanentMarketplaceError(message, status=status, details=_safe_json(response))


def _safe_json(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {"body": body}
