"""The application's error hierarchy. Every domain error carries a stable `code`, the HTTP status
the API renders it with, a human `message` and structured `details`; the API exception handler
turns any of them into {"error": {"code", "message", "details"}}."""

from enum import StrEnum
from typing import Any


class ErrorCode(StrEnum):
    ERROR = "error"
    NOT_FOUND = "not_found"
    VALIDATION_FAILED = "validation_failed"
    INVALID_TRANSITION = "invalid_transition"
    IDEMPOTENCY_CONFLICT = "idempotency_conflict"
    CONFLICT = "conflict"
    TENANT_NOT_FOUND = "tenant_not_found"
    TENANT_UNAVAILABLE = "tenant_unavailable"
    MARKETPLACE_TRANSIENT = "marketplace_transient"
    MARKETPLACE_PERMANENT = "marketplace_permanent"
    MARKETPLACE_AUTH = "marketplace_auth"
    AUTHENTICATION_FAILED = "authentication_failed"


class ApplicationError(Exception):
    code: ErrorCode = ErrorCode.ERROR
    http_status: int = 400

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}


class NotFound(ApplicationError):
    code = ErrorCode.NOT_FOUND
    http_status = 404


class ValidationFailed(ApplicationError):
    code = ErrorCode.VALIDATION_FAILED
    http_status = 400


class InvalidTransition(ApplicationError):
    code = ErrorCode.INVALID_TRANSITION
    http_status = 409


class Conflict(ApplicationError):
    """The request is valid but clashes with the current state of another resource."""

    code = ErrorCode.CONFLICT
    http_status = 409


class IdempotencyConflict(ApplicationError):
    code = ErrorCode.IDEMPOTENCY_CONFLICT
    http_status = 422


class AuthenticationFailed(ApplicationError):
    """Wrong credentials at login (the same answer for an unknown user and a wrong password)."""

    code = ErrorCode.AUTHENTICATION_FAILED
    http_status = 401


class TenantNotFound(ApplicationError):
    code = ErrorCode.TENANT_NOT_FOUND
    http_status = 404


class TenantUnavailable(ApplicationError):
    code = ErrorCode.TENANT_UNAVAILABLE
    http_status = 503


class MarketplaceError(ApplicationError):
    """Base of errors raised by marketplace clients; the subclass decides the retry policy."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message, details=details)
        self.status = status


# Error classification (DESIGN §3), the one place it is decided; the engine's retry policy
# (marketplace.engine.policy) builds on it, and every client asks it. Statuses below 500 still
# worth retrying: 408 Request Timeout (RFC 9110 §15.5.9) and 429 Too Many Requests (RFC 6585 §4).
RETRYABLE_4XX = frozenset({408, 429})
# Methods whose repetition creates nothing: a lost answer to one of them is not ambiguous.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def is_retryable_status(status: int) -> bool:
    """5xx, 408 and 429 are transient; every other 4xx is permanent."""
    return status >= 500 or status in RETRYABLE_4XX


def is_ambiguous(method: str) -> bool:
    """A write whose answer was lost may have been applied: reconcile before repeating it."""
    return method.upper() not in SAFE_METHODS


class TransientMarketplaceError(MarketplaceError):
    """5xx, 408, 429, connection errors and timeouts: worth retrying after `retry_after` s."""

    code = ErrorCode.MARKETPLACE_TRANSIENT
    http_status = 503

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
        ambiguous: bool = False,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message, status=status, details=details)
        self.retry_after = retry_after
        # True when the request may have been applied (answer lost): reconcile before repeating.
        self.ambiguous = ambiguous


class PermanentMarketplaceError(MarketplaceError):
    """Other 4xx, validation errors, missing product or credentials: fail at once."""

    code = ErrorCode.MARKETPLACE_PERMANENT
    http_status = 422


class MarketplaceAuthError(PermanentMarketplaceError):
    """The connection needs re-authorisation (refresh failed or no credentials)."""

    code = ErrorCode.MARKETPLACE_AUTH


class JobDeferred(ApplicationError):
    """Not a failure: the job cannot run now (the tenant's Vinted extension is offline, or the
    tenant's own rate budget is spent). It waits, consuming no attempt."""

    code = ErrorCode.ERROR
    http_status = 409

    def __init__(self, reason: str, *, delay_s: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.delay_s = delay_s
