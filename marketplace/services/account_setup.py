"""A connection's listing setup: what the marketplace account offers for new listings, and
which of it the shop uses.

eBay publishes an offer only with business policies (fulfillment, payment, return) and an
inventory location (`listingPolicies`, `merchantLocationKey`); Etsy activates a physical listing
only with a shipping profile and a processing profile (`shipping_profile_id`,
`readiness_state_id`), and takes a return policy. These are read from the account at connect
time and on demand, stored on the connection (`setup_options`), and one of each is chosen
(`setup`): the shop's choice when it made one that still exists, else the account's default,
else the first. The handlers send the chosen ids on every offer / draft; readiness reports a
connection that lacks one."""

import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from core.errors import MarketplaceError, NotFound, TransientMarketplaceError, ValidationFailed
from marketplace.handlers.ebay import payloads as ebay_payloads
from marketplace.handlers.ebay.client import EbayClient
from marketplace.handlers.etsy import payloads as etsy_payloads
from marketplace.handlers.etsy.client import EtsyClient
from marketplace.models import MarketplaceConnection
from marketplace.states import Marketplace

logger = logging.getLogger(__name__)

T = TypeVar("T")
Option = dict[str, Any]  # {"id": str, "name": str, "default": bool}

# The setup keys each marketplace needs before a listing can go live, and those it merely uses.
REQUIRED_SETUP: dict[str, tuple[str, ...]] = {
    Marketplace.EBAY: (*ebay_payloads.SETUP_KEYS, ebay_payloads.LOCATION_KEY),
    Marketplace.ETSY: etsy_payloads.SETUP_KEYS,
}
OPTIONAL_SETUP: dict[str, tuple[str, ...]] = {
    Marketplace.ETSY: etsy_payloads.OPTIONAL_SETUP_KEYS,
}


def _ebay_default(policy: dict[str, Any]) -> bool:
    return any(bool(t.get("default")) for t in policy.get("categoryTypes") or [])


def _read_ebay() -> dict[str, list[Option]]:
    """https://developer.ebay.com/api-docs/sell/account/resources/methods and
    https://developer.ebay.com/api-docs/sell/inventory/resources/location/methods/getInventoryLocations"""
    client = EbayClient.for_tenant()
    marketplace_id = settings.EBAY_MARKETPLACE_ID

    def policies(rows: list[dict[str, Any]], key: str) -> list[Option]:
        return [
            {"id": str(p[key]), "name": str(p.get("name", "")), "default": _ebay_default(p)}
            for p in rows
        ]

    return {
        "fulfillment_policy_id": policies(
            _retried(lambda: client.fulfillment_policies(marketplace_id)), "fulfillmentPolicyId"
        ),
        "payment_policy_id": policies(
            _retried(lambda: client.payment_policies(marketplace_id)), "paymentPolicyId"
        ),
        "return_policy_id": policies(
            _retried(lambda: client.return_policies(marketplace_id)), "returnPolicyId"
        ),
        "merchant_location_key": [
            {
                "id": str(location["merchantLocationKey"]),
                "name": str(location.get("name") or location["merchantLocationKey"]),
                "default": False,
            }
            for location in _retried(client.inventory_locations)
            if location.get("merchantLocationStatus", "ENABLED") == "ENABLED"
        ],
    }


def _read_etsy() -> dict[str, list[Option]]:
    client = EtsyClient.for_tenant()

    def readiness_name(state: dict[str, Any]) -> str:
        low, high = state.get("min_processing_time"), state.get("max_processing_time")
        unit = state.get("processing_time_unit", "days")
        return f"{state.get('readiness_state', 'ready_to_ship')} ({low}-{high} {unit})"

    return {
        "shipping_profile_id": [
            {"id": str(p["shipping_profile_id"]), "name": str(p.get("title", "")), "default": False}
            for p in _retried(client.shipping_profiles)
        ],
        "readiness_state_id": [
            {"id": str(s["readiness_state_id"]), "name": readiness_name(s), "default": False}
            for s in _retried(client.readiness_state_definitions)
        ],
        "return_policy_id": [
            {
                "id": str(p["return_policy_id"]),
                "name": (
                    f"returns within {p.get('return_deadline')} days"
                    if p.get("accepts_returns")
                    else "no returns"
                ),
                "default": False,
            }
            for p in _retried(client.return_policies)
        ],
    }


_READERS = {Marketplace.EBAY: _read_ebay, Marketplace.ETSY: _read_etsy}


def _chosen(options: dict[str, list[Option]], previous: dict[str, Any]) -> dict[str, str]:
    setup: dict[str, str] = {}
    for key, offered in options.items():
        ids = [option["id"] for option in offered]
        if str(previous.get(key, "")) in ids:
            setup[key] = str(previous[key])
        elif offered:
            default = next((o for o in offered if o["default"]), offered[0])
            setup[key] = default["id"]
    return setup


def _connection(marketplace: str, *, lock: bool = False) -> MarketplaceConnection:
    if marketplace not in _READERS:
        raise NotFound(
            "Only eBay and Etsy connections have a listing setup.",
            details={"marketplace": marketplace},
        )
    queryset = MarketplaceConnection.objects.filter(marketplace=marketplace)
    connection = (queryset.select_for_update() if lock else queryset).first()
    if connection is None:
        raise NotFound(
            f"No {marketplace} account is connected to this shop.",
            details={"marketplace": marketplace},
        )
    return connection


# The setup is read while a user waits (connect, refresh): a few quick retries of a 5xx/429,
# not the job engine's backoff.
READ_ATTEMPTS = 4
READ_BACKOFF_S = 0.5
READ_BACKOFF_MAX_S = 5.0


def _retried(call: Callable[[], T]) -> T:
    """One marketplace read, retried on a transient failure."""
    for attempt in range(1, READ_ATTEMPTS + 1):
        try:
            return call()
        except TransientMarketplaceError as error:
            if attempt == READ_ATTEMPTS:
                raise
            delay = error.retry_after or READ_BACKOFF_S * 2 ** (attempt - 1)
            time.sleep(min(delay, READ_BACKOFF_MAX_S))
    raise AssertionError("unreachable")  # the loop returns or raises


def connection_setup_get(*, marketplace: str) -> MarketplaceConnection:
    return _connection(marketplace)


def connection_setup_refresh(*, marketplace: str) -> MarketplaceConnection:
    """Read the account's policies / profiles / locations and (re)choose one of each."""
    _connection(marketplace)
    # HTTP: outside the transaction
    options = _READERS[marketplace]()  # type: ignore[index]
    with transaction.atomic():
        connection = _connection(marketplace, lock=True)
        connection.setup_options = options
        connection.setup = _chosen(options, connection.setup)
        connection.setup_read_at = timezone.now()
        connection.save(update_fields=["setup_options", "setup", "setup_read_at", "updated_at"])
    logger.info(
        "connection.setup_read",
        extra={"marketplace": marketplace, "missing": connection_setup_missing(connection)},
    )
    return connection


def connection_setup_refresh_quietly(*, marketplace: str) -> None:
    """At connect time: a failure to read the setup must not undo the connection; readiness
    then reports what is missing, and the setup can be read again on demand."""
    try:
        connection_setup_refresh(marketplace=marketplace)
    except MarketplaceError as error:
        logger.warning(
            "connection.setup_read_failed",
            extra={"marketplace": marketplace, "error": error.message},
        )


def connection_setup_choose(*, marketplace: str, choices: dict[str, str]) -> MarketplaceConnection:
    """Choose among what the account offers (read with connection_setup_refresh)."""
    _connection(marketplace)  # an eBay or Etsy connection exists
    allowed = (*REQUIRED_SETUP[marketplace], *OPTIONAL_SETUP.get(marketplace, ()))
    if unknown := sorted(set(choices) - set(allowed)):
        raise ValidationFailed(
            f"A {marketplace} setup takes: {', '.join(allowed)}.", details={"unknown": unknown}
        )
    with transaction.atomic():
        connection = _connection(marketplace, lock=True)
        invalid = {
            key: value
            for key, value in choices.items()
            if str(value) not in {o["id"] for o in connection.setup_options.get(key, [])}
        }
        if invalid:
            raise ValidationFailed(
                "The account does not offer these; read the setup again if they are new.",
                details={"invalid": invalid},
            )
        connection.setup = {**connection.setup, **{k: str(v) for k, v in choices.items()}}
        connection.save(update_fields=["setup", "updated_at"])
    return connection


def connection_setup_missing(connection: MarketplaceConnection) -> list[str]:
    """The setup keys a listing needs that the connection has not chosen."""
    required = REQUIRED_SETUP.get(connection.marketplace, ())
    return [key for key in required if not connection.setup.get(key)]
