"""OAuth 2 state shared by the sandboxes: authorization codes, access and refresh tokens.

Both marketplaces use the authorization-code grant and bearer tokens; they differ in token
format, lifetimes, and whether a refresh also rotates the refresh token (Etsy does, eBay does
not). Those differences are constructor arguments; the bookkeeping lives here once.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

AUTHORIZATION_CODE_TTL = 299  # eBay and Etsy both expire consent codes after about 5 minutes


class TokenStatus(StrEnum):
    VALID = "valid"
    EXPIRED = "expired"
    REVOKED = "revoked"  # a refresh token replaced by rotation
    INVALID = "invalid"


@dataclass(frozen=True)
class TokenPair:
    user: str
    access_token: str
    access_expires_in: int
    refresh_token: str
    refresh_expires_in: int


@dataclass
class _Grant:
    user: str
    client_id: str
    expires_at: float


@dataclass(frozen=True)
class _Code:
    user: str
    client_id: str
    redirect_uri: str
    code_challenge: str | None
    expires_at: float


class CodeError(ValueError):
    """An authorization code could not be redeemed; the message names the reason."""


def pkce_challenge(verifier: str) -> str:
    """The S256 code challenge of a PKCE verifier (RFC 7636 §4.2)."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class TokenStore:
    """Issued tokens and codes of one sandbox; every method is thread-safe."""

    def __init__(
        self,
        *,
        access_token_ttl: int,
        refresh_token_ttl: int,
        rotate_refresh_tokens: bool,
        make_token: Callable[[str, str], str],
    ) -> None:
        # make_token(user, kind) builds a token string; kind is "access", "refresh" or "code".
        self.access_token_ttl = access_token_ttl
        self.refresh_token_ttl = refresh_token_ttl
        self._rotate = rotate_refresh_tokens
        self._make_token = make_token
        self._lock = threading.Lock()
        self._access: dict[str, _Grant] = {}
        self._refresh: dict[str, _Grant] = {}
        self._codes: dict[str, _Code] = {}
        self._revoked: set[str] = set()

    def issue(self, user: str, client_id: str) -> TokenPair:
        """Mint a fresh refresh + access token pair for `user`, as a completed consent does."""
        with self._lock:
            refresh = self._new_refresh(user, client_id)
            access = self._new_access(user, client_id)
        return TokenPair(user, access, self.access_token_ttl, refresh, self.refresh_token_ttl)

    def refresh(self, refresh_token: str, client_id: str) -> TokenPair | None:
        """A new access token for a live refresh token of `client_id`, else None.

        With rotation the old refresh token is revoked and a new one returned.
        """
        now = time.monotonic()
        with self._lock:
            grant = self._refresh.get(refresh_token)
            if grant is None or grant.client_id != client_id or grant.expires_at <= now:
                return None
            if self._rotate:
                del self._refresh[refresh_token]
                self._revoked.add(refresh_token)
                refresh_token = self._new_refresh(grant.user, client_id)
            access = self._new_access(grant.user, client_id)
            remaining = int(self._refresh[refresh_token].expires_at - now)
        return TokenPair(grant.user, access, self.access_token_ttl, refresh_token, remaining)

    def check_access(self, token: str | None) -> tuple[TokenStatus, str | None]:
        """The status of a bearer token and, when valid, its user."""
        with self._lock:
            grant = self._access.get(token) if token else None
        if grant is None:
            return TokenStatus.INVALID, None
        if grant.expires_at <= time.monotonic():
            return TokenStatus.EXPIRED, None
        return TokenStatus.VALID, grant.user

    def refresh_token_status(self, token: str) -> TokenStatus:
        """Why a refresh token works or not, for error messages that say which."""
        with self._lock:
            grant = self._refresh.get(token)
            if grant is None:
                return TokenStatus.REVOKED if token in self._revoked else TokenStatus.INVALID
        return TokenStatus.VALID if grant.expires_at > time.monotonic() else TokenStatus.EXPIRED

    def expire_access_tokens(self) -> int:
        """Make every access token issued so far expired; returns how many were live."""
        now = time.monotonic()
        with self._lock:
            live = [grant for grant in self._access.values() if grant.expires_at > now]
            for grant in live:
                grant.expires_at = now
        return len(live)

    def revoke_refresh_token(self, refresh_token: str) -> bool:
        """Revoke a refresh token, as a user disconnecting the app does; False if unknown."""
        with self._lock:
            if self._refresh.pop(refresh_token, None) is None:
                return False
            self._revoked.add(refresh_token)
            return True

    def create_code(
        self, user: str, client_id: str, redirect_uri: str, code_challenge: str | None = None
    ) -> str:
        code = self._make_token(user, "code")
        expires_at = time.monotonic() + AUTHORIZATION_CODE_TTL
        with self._lock:
            self._codes[code] = _Code(user, client_id, redirect_uri, code_challenge, expires_at)
        return code

    def redeem_code(
        self, code: str, client_id: str, redirect_uri: str, code_verifier: str | None = None
    ) -> TokenPair:
        """Exchange a consent code (single use) for a token pair, checking PKCE if it was used."""
        with self._lock:
            entry = self._codes.pop(code, None)
        if entry is None or entry.expires_at <= time.monotonic():
            raise CodeError("code is invalid or expired")
        if entry.client_id != client_id or entry.redirect_uri != redirect_uri:
            raise CodeError("code was issued to another client or redirect_uri")
        if entry.code_challenge is not None and (
            not code_verifier or pkce_challenge(code_verifier) != entry.code_challenge
        ):
            raise CodeError("code_verifier is invalid")
        return self.issue(entry.user, client_id)

    def clear(self) -> None:
        with self._lock:
            self._access.clear()
            self._refresh.clear()
            self._codes.clear()
            self._revoked.clear()

    def _new_access(self, user: str, client_id: str) -> str:
        token = self._make_token(user, "access")
        self._access[token] = _Grant(user, client_id, time.monotonic() + self.access_token_ttl)
        return token

    def _new_refresh(self, user: str, client_id: str) -> str:
        token = self._make_token(user, "refresh")
        self._refresh[token] = _Grant(user, client_id, time.monotonic() + self.refresh_token_ttl)
        return token


def random_token(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)
