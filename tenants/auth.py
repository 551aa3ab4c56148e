"""API tokens: issue at login, look up per request, revoke at logout or from the token list.

`user_for_token` is the one place a token becomes a user (the live-update socket calls it; the
REST authentication class below shares its lookup and cache). A lookup is cached for
RELIST_AUTH_CACHE_TTL_S seconds (keyed by the token's digest, holding the user and their
memberships), so a request costs no query for authentication nor for the membership check;
revoking a token deletes its entry at once, while a changed membership or a deactivated user is
seen when the entry expires.

Failed token authentications count against the client's IP (scope `auth_failure`, stricter than
the general throttles): past the rate every request from that IP answers 429 with Retry-After
before any token is looked up, so guessing tokens does not scale.
"""

import hashlib
import logging
import pickle
import secrets
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from typing import Any, cast

import redis
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

from tenants.models import ApiToken, Membership

logger = logging.getLogger(__name__)

TOKEN_PREFIX = "rlt_"
KEYWORDS = (b"bearer", b"token")  # `Authorization: Bearer <token>` or `Token <token>`
_CACHE_PREFIX = "relist:auth:token:"
_FAILURES_PREFIX = "relist:auth:failures:"
# Writing last_used_at on every request would make each GET a write; once a minute says enough.
_LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True)
class TokenAuth:
    """What a request authenticated with: `request.auth` under the REST API."""

    token_id: int
    digest: str
    expires_at: datetime
    memberships: dict[int, str] = field(default_factory=dict)  # tenant pk -> role

    def role_in(self, tenant_id: int) -> str | None:
        return self.memberships.get(tenant_id)


def token_digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def api_token_issue(*, user: AbstractBaseUser, name: str = "") -> tuple[ApiToken, str]:
    """A new token for one of `user`'s devices; returns the row and the token (shown once)."""
    raw = f"{TOKEN_PREFIX}{secrets.token_urlsafe(32)}"
    now = timezone.now()
    with transaction.atomic():
        token = ApiToken.objects.create(  # type: ignore[misc]
            user=user,
            name=name,
            digest=token_digest(raw),
            prefix=raw[:12],
            expires_at=now + timedelta(seconds=settings.RELIST_API_TOKEN_TTL_S),
            last_used_at=now,  # issuing is a use: the first requests then write nothing
        )
    logger.info("auth.token_issued", extra={"user": user.pk, "token": token.pk})
    return token, raw


def api_token_revoke(*, token: ApiToken) -> None:
    """Delete the token; a request already holding its cached lookup is the last one served."""
    digest = token.digest
    token.delete()
    _redis().delete(_cache_key(digest))
    logger.info("auth.token_revoked", extra={"user": token.user_id, "token": token.pk})


def api_token_list(*, user: AbstractBaseUser) -> Any:
    """The user's live tokens, newest first (expired ones are not shown: they are dead)."""
    return ApiToken.objects.filter(user_id=user.pk, expires_at__gt=timezone.now())


def _lookup(digest: str) -> tuple[AbstractBaseUser, TokenAuth] | None:
    now = timezone.now()
    token = (
        ApiToken.objects.select_related("user")
        .filter(digest=digest, expires_at__gt=now, user__is_active=True)
        .first()
    )
    if token is None:
        return None
    if token.last_used_at is None or now - token.last_used_at > _LAST_USED_RESOLUTION:
        # Use does not extend a token: it expires at expires_at however often it is used.
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    memberships = dict(
        Membership.objects.filter(user_id=token.user_id).values_list("tenant_id", "role")
    )
    return token.user, TokenAuth(token.pk, digest, token.expires_at, memberships)


def user_for_token(key: str) -> tuple[AbstractBaseUser, TokenAuth] | None:
    """The active user a raw API token belongs to, with the token and the user's memberships;
    None for an unknown, expired or revoked token or an inactive user."""
    if not _plausible(key):
        return None
    digest = token_digest(key)
    ttl = settings.RELIST_AUTH_CACHE_TTL_S
    cached = cast("bytes | None", _redis().get(_cache_key(digest))) if ttl > 0 else None
    return _resolved(digest, cached)


def _plausible(key: str) -> bool:
    return bool(key) and len(key) <= 200


def _cache_key(digest: str) -> str:
    return f"{_CACHE_PREFIX}{digest}"


@cache
def _redis() -> redis.Redis:
    """The lookup cache and the failure counts, on the shared cache's Redis. Not through
    django.core.cache: its client builds a new redis.Redis per call, which cost more CPU than
    the lookup it saved; one client (one pool) per process instead."""
    return redis.Redis.from_url(settings.REDIS_URL)


def _resolved(digest: str, cached: bytes | None) -> tuple[AbstractBaseUser, TokenAuth] | None:
    """The cached lookup `cached` (as read from Redis) if still good, else a fresh lookup,
    cached for RELIST_AUTH_CACHE_TTL_S."""
    if cached is not None:
        found: tuple[AbstractBaseUser, TokenAuth] = pickle.loads(cached)
        if found[1].expires_at > timezone.now():
            return found
    ttl = settings.RELIST_AUTH_CACHE_TTL_S
    fresh = _lookup(digest)
    if fresh is not None and ttl > 0:
        _redis().set(_cache_key(digest), pickle.dumps(fresh), ex=ttl)
    return fresh


class AuthFailureThrottle(SimpleRateThrottle):
    """Counts failed token authentications per client IP (scope `auth_failure`), per fixed
    window as ClientRateThrottle counts requests. Unlike DRF's throttles it records only
    failures: a client with a good token never meets it."""

    scope = "auth_failure"

    def __init__(self, request: Request) -> None:  # the rate is read per request, as DRF's
        self.limit, self.window = self.parse_rate(self.THROTTLE_RATES.get(self.scope))
        self.now = time.time()
        self.key: str | None = None
        if self.limit is not None and self.window:
            window = int(self.now // self.window)
            self.key = f"{_FAILURES_PREFIX}{self.get_ident(request)}:{window}"

    def get_cache_key(self, request: Any, view: Any) -> str | None:  # unused: see __init__
        return self.key

    def blocked(self, count: bytes | None) -> float | None:
        """Seconds to wait when the IP's `count` of failures (as read from Redis) is over its
        budget, else None."""
        if self.limit is None or not self.window or count is None or int(count) < self.limit:
            return None
        return self.window - self.now % self.window

    def record_failure(self) -> None:
        if self.key is None or not self.window:
            return
        pipe = _redis().pipeline(transaction=False)
        pipe.incr(self.key)
        pipe.expire(self.key, self.window + 1)
        pipe.execute()


class ApiTokenAuthentication(BaseAuthentication):
    """`Authorization: Bearer <token>` (or `Token <token>`) of an ApiToken.

    One Redis round trip reads both the IP's failure count and the token's cached lookup; a
    cached token then costs no query."""

    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[AbstractBaseUser, TokenAuth] | None:
        header = get_authorization_header(request).split()
        if not header or header[0].lower() not in KEYWORDS:
            return None
        throttle = AuthFailureThrottle(request)
        key = _header_token(header)
        digest = token_digest(key) if _plausible(key) else None
        pipe = _redis().pipeline(transaction=False)
        pipe.get(throttle.key or _FAILURES_PREFIX)
        if digest is not None and settings.RELIST_AUTH_CACHE_TTL_S > 0:
            pipe.get(_cache_key(digest))
        count, *cached = pipe.execute()
        wait = throttle.blocked(count)
        if wait is not None:
            raise exceptions.Throttled(wait)
        if len(header) != 2:
            throttle.record_failure()
            raise exceptions.AuthenticationFailed("Invalid token header.")
        found = _resolved(digest, cached[0] if cached else None) if digest else None
        if found is None:
            throttle.record_failure()
            raise exceptions.AuthenticationFailed("Invalid or expired token.")
        return found

    def authenticate_header(self, request: Request) -> str:
        return self.keyword


def _header_token(header: list[bytes]) -> str:
    if len(header) != 2:
        return ""
    try:
        return header[1].decode("ascii")
    except UnicodeDecodeError:
        return ""


def lockout_response(request: HttpRequest, response: Any = None, credentials: Any = None,
                     *args: Any, **kwargs: Any) -> HttpResponse:  # fmt: skip
    """django-axes' answer once a login is locked out: 429 with Retry-After, JSON under /api/."""
    retry_after = int(settings.AXES_COOLOFF_TIME.total_seconds())
    message = "Too many failed login attempts; try again later."
    if request.path.startswith("/api/"):
        answer: HttpResponse = JsonResponse(
            {"error": {"code": "locked_out", "message": message, "details": {}}}, status=429
        )
    else:
        answer = HttpResponse(message, status=429, content_type="text/plain")
    answer["Retry-After"] = str(retry_after)
    return answer
