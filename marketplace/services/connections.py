"""Per-tenant marketplace credentials: reading, storing and refreshing OAuth tokens.

Refreshes are serialised per connection with a row lock, because Etsy rotates the refresh token
on every refresh: two workers refreshing with the same token would make the second fail and
wrongly mark the connection as needing re-authorisation."""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from core.errors import MarketplaceAuthError, NotFound
from marketplace.models import MarketplaceConnection
from marketplace.models.connections import ConnectionStatus
from sales.schedule.services import sync_schedule_disable, sync_schedule_enable

logger = logging.getLogger(__name__)

# Refresh a little before expiry so a call never starts with a token about to lapse.
EXPIRY_MARGIN = timedelta(seconds=60)


@dataclass(frozen=True, slots=True)
class TokenGrant:
    access_token: str
    expires_in: int
    refresh_token: str | None = None
    refresh_token_expires_in: int | None = None
    scopes: tuple[str, ...] = ()


Refresher = Callable[[str], TokenGrant]


def connection_store(
    *, marketplace: str, grant: TokenGrant, account_id: str = ""
) -> MarketplaceConnection:
    """Save the tokens of a fresh authorisation (OAuth callback, tests, demo)."""
    now = timezone.now()
    defaults = {
        "status": ConnectionStatus.CONNECTED,
        "status_reason": "",
        "access_token": grant.access_token,
        "access_token_expires_at": now + timedelta(seconds=grant.expires_in),
        "refresh_token": grant.refresh_token or "",
        "refresh_token_expires_at": (
            now + timedelta(seconds=grant.refresh_token_expires_in)
            if grant.refresh_token_expires_in
            else None
        ),
        "scopes": list(grant.scopes),
        "account_id": account_id,
    }
    connection, _ = MarketplaceConnection.objects.update_or_create(
        marketplace=marketplace, defaults=defaults
    )
    sync_schedule_enable(marketplace=marketplace)
    return connection


def connection_get_usable(*, marketplace: str) -> MarketplaceConnection:
    connection = MarketplaceConnection.objects.filter(marketplace=marketplace).first()
    return connection_check_usable(connection, marketplace=marketplace)


def connection_check_usable(
    connection: MarketplaceConnection | None, *, marketplace: str
) -> MarketplaceConnection:
    """The connection if jobs may use it (a row the caller already read, e.g. with the job);
    MarketplaceAuthError otherwise."""
    if connection is None or connection.status == ConnectionStatus.DISCONNECTED:
        raise MarketplaceAuthError(
            f"No {marketplace} account is connected to this shop.",
            details={"marketplace": marketplace},
        )
    if connection.status == ConnectionStatus.NEEDS_REAUTH:
        raise MarketplaceAuthError(
            f"The {marketplace} connection needs re-authorisation: {connection.status_reason}",
            details={"marketplace": marketplace},
        )
    return connection


class ConnectionCredentials:
    """The Credentials a marketplace client uses for one job."""

    def __init__(
        self,
        *,
        marketplace: str,
        refresher: Refresher,
        connection: MarketplaceConnection | None = None,
    ) -> None:
        self.marketplace = marketplace
        self.refresher = refresher
        self._token: str | None = None
        # The row the engine read with the job: the first token comes from it, no query.
        self._preloaded = connection

    def access_token(self) -> str:
        if self._token is None:
            if self._preloaded is not None:
                connection = connection_check_usable(self._preloaded, marketplace=self.marketplace)
                self._preloaded = None
            else:
                connection = connection_get_usable(marketplace=self.marketplace)
            expires_at = connection.access_token_expires_at
            if expires_at is not None and expires_at - EXPIRY_MARGIN <= timezone.now():
                return self.refresh(stale_token=connection.access_token)
            self._token = connection.access_token
        return self._token

    def refresh(self, *, stale_token: str) -> str:
        failure: MarketplaceAuthError | None = None
        with transaction.atomic():
            connection = MarketplaceConnection.objects.select_for_update().get(
                marketplace=self.marketplace
            )
            if connection.access_token != stale_token:
                self._token = connection.access_token  # another worker refreshed it
                return self._token
            try:
                grant = self.refresher(connection.refresh_token)
            except MarketplaceAuthError as error:
                failure = error
            else:
                self._save_grant(connection, grant)
                self._token = grant.access_token
                logger.info("connection.refreshed", extra={"marketplace": self.marketplace})
                return self._token
        connection_mark_needs_reauth(marketplace=self.marketplace, reason=failure.message)
        raise failure

    @staticmethod
    def _save_grant(connection: MarketplaceConnection, grant: TokenGrant) -> None:
        now = timezone.now()
        connection.access_token = grant.access_token
        connection.access_token_expires_at = now + timedelta(seconds=grant.expires_in)
        fields = ["access_token", "access_token_expires_at", "updated_at"]
        if grant.refresh_token:
            connection.refresh_token = grant.refresh_token
            fields.append("refresh_token")
            if grant.refresh_token_expires_in:
                connection.refresh_token_expires_at = now + timedelta(
                    seconds=grant.refresh_token_expires_in
                )
                fields.append("refresh_token_expires_at")
        connection.save(update_fields=fields)


def connection_mark_needs_reauth(*, marketplace: str, reason: str) -> None:
    MarketplaceConnection.objects.filter(marketplace=marketplace).update(
        status=ConnectionStatus.NEEDS_REAUTH,
        status_reason=reason[:300],
        updated_at=timezone.now(),
    )
    logger.warning("connection.needs_reauth", extra={"marketplace": marketplace})


def connection_disconnect(*, marketplace: str) -> MarketplaceConnection:
    """Forget the shop's tokens for `marketplace`. Jobs that need the account then fail as
    "not connected" until the account is connected again. The row stays, as a record."""
    with transaction.atomic():
        # The lock waits for a refresh in flight, so its new tokens cannot outlive this.
        connection = (
            MarketplaceConnection.objects.select_for_update()
            .filter(marketplace=marketplace)
            .first()
        )
        if connection is None:
            raise NotFound(
                f"No {marketplace} account is connected to this shop.",
                details={"marketplace": marketplace},
            )
        connection.status = ConnectionStatus.DISCONNECTED
        connection.status_reason = "Disconnected by a user."
        connection.access_token = ""
        connection.refresh_token = ""
        connection.access_token_expires_at = None
        connection.refresh_token_expires_at = None
        connection.save(
            update_fields=[
                "status",
                "status_reason",
                "access_token",
                "refresh_token",
                "access_token_expires_at",
                "refresh_token_expires_at",
                "updated_at",
            ]
        )
    sync_schedule_disable(marketplace=marketplace)
    logger.info("connection.disconnected", extra={"marketplace": marketplace})
    return connection
