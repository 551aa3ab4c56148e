"""API tokens: issue at login, look up per request, revoke at logout or from the token list.

`user_for_token` is the one place a token becomes a user: the REST authentication class below
and the live-update socket both call it. A lookup is cached for RELIST_AUTH_CACHE_TTL_S seconds
(keyed by the token's digest, holding the user and their memberships), so a request costs no
query for authentication nor for the membership check; revoking a token deletes its entry at
once, while a changed membership or a deactivated user is seen when the entry expires.

Failed token authentications count against the client's IP (scope `auth_failure`, stricter than
the general throttles): past the rate every request from that IP answers 429 with Retry-After
before any token is looked up, so guessing tokens does not scale.
"""

import hashlib
import logging
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.cache import cache
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
_CACHE_PREFIX = "auth:token:"
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
    cache.delete(_CACHE_PREFIX + digest)
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
    if not key or len(key) > 200:
        return None
    digest = token_digest(key)
    ttl = settings.RELIST_AUTH_CACHE_TTL_S
    if ttl > 0:
        cached = cache.get(_CACHE_PREFIX + digest)
        if cached is not None and cached[1].expires_at > timezone.now():
            return cached
    found = _lookup(digest)
    if found is not None and ttl > 0:
        cache.set(_CACHE_PREFIX + digest, found, ttl)
    return found


class AuthFailureThrottle(SimpleRateThrottle):
    """Counts failed token authentications per client IP (scope `auth_failure`). Unlike DRF's
    throttles it records only failures: a client with a good token never meets it."""

    scope = "auth_failure"

    def get_cache_key(self, request: Any, view: Any) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}

    def blocked(self, request: Request) -> float | None:
        """Seconds to wait when the IP is over its failure budget, else None."""
        if self.rate is None:
            return None
        self.key = self.get_cache_key(request, None)
        self.history = self.cache.get(self.key, [])
        self.now = self.timer()
        while self.history and self.history[-1] <= self.now - self.duration:  # type: ignore[attr-defined]
            self.history.pop()
        return self.wait() if len(self.history) >= self.num_requests else None  # type: ignore[attr-defined]

    def record_failure(self) -> None:
        self.history.insert(0, self.now)
        self.cache.set(self.key, self.history, self.duration)  # type: ignore[attr-defined]


class ApiTokenAuthentication(BaseAuthentication):
    """`Authorization: Bearer <token>` (or `Token <token>`) of an ApiToken."""

    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[AbstractBaseUser, TokenAuth] | None:
        header = get_authorization_header(request).split()
        if not header or header[0].lower() not in KEYWORDS:
            return None
        throttle = AuthFailureThrottle()
        wait = throttle.blocked(request)
        if wait is not None:
            raise exceptions.Throttled(wait)
        if len(header) != 2:
            throttle.record_failure()
            raise exceptions.AuthenticationFailed("Invalid token header.")
        try:
            key = header[1].decode("ascii")
        except UnicodeDecodeError:
            key = ""
        found = user_for_token(key)
        if found is None:
            throttle.record_failure()
            raise exceptions.AuthenticationFailed("Invalid or expired token.")
        return found

    def authenticate_header(self, request: Request) -> str:
        return self.keyword


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
