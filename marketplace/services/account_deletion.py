"""eBay Marketplace Account Deletion: an eBay user asked eBay to delete their account, and
every application holding their data must delete it.
https://developer.ebay.com/marketplace-account-deletion

The notification names the user (`username`, `userId`); Relist holds their data as a seller
(a shop's eBay connection: tokens, account id, listing setup) or as a buyer (the buyer name and
the raw order of eBay orders). The notification is application-wide, so every shop is visited."""

import hashlib
import logging
from dataclasses import dataclass

from django.db.models import Q
from django.utils import timezone

from marketplace.models import MarketplaceConnection, Order
from marketplace.models.connections import ConnectionStatus
from marketplace.states import Marketplace
from tenants.context import tenant_context
from tenants.models import Tenant

logger = logging.getLogger(__name__)


def ebay_deletion_challenge_response(
    *, challenge_code: str, verification_token: str, endpoint_url: str
) -> str:
    """hex(SHA-256(challengeCode + verificationToken + endpoint)), in that order."""
    digest = hashlib.sha256()
    for part in (challenge_code, verification_token, endpoint_url):
        digest.update(part.encode("utf-8"))
    return digest.hexdigest()


@dataclass(frozen=True, slots=True)
class DeletionOutcome:
    connections: int = 0
    orders: int = 0


def ebay_account_data_delete(*, user_id: str, username: str) -> DeletionOutcome:
    """Forget the eBay user in every shop: their connection (tokens, account, setup) and
    their buyer data on eBay orders."""
    names = [name for name in (user_id, username) if name]
    if not names:
        return DeletionOutcome()
    connections = orders = 0
    schemas = Tenant.objects.exclude(schema_name="public").values_list("schema_name", flat=True)
    for schema in list(schemas):
        with tenant_context(schema):
            connections += MarketplaceConnection.objects.filter(
                marketplace=Marketplace.EBAY, account_id__in=names
            ).update(
                status=ConnectionStatus.DISCONNECTED,
                status_reason="The eBay account was deleted (eBay account deletion notice).",
                access_token="",
                refresh_token="",
                access_token_expires_at=None,
                refresh_token_expires_at=None,
                account_id="",
                scopes=[],
                setup={},
                setup_options={},
                setup_read_at=None,
                updated_at=timezone.now(),
            )
            orders += Order.objects.filter(Q(buyer__in=names), marketplace=Marketplace.EBAY).update(
                buyer="", data={}, updated_at=timezone.now()
            )
    # No user name in the log: deleting it is the point.
    logger.info("ebay.account_deleted", extra={"connections": connections, "orders": orders})
    return DeletionOutcome(connections=connections, orders=orders)
