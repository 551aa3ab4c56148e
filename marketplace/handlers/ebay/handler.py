"""eBay handlers: publish, update, delete, sync_listings, sync_orders.

Publish is safe to repeat: the inventory item is PUT by SKU, an existing offer for the SKU is
reused (looked up first when an earlier attempt may have created it, or when eBay answers
25002 "offer already exists"), and publishing an already published offer returns the same
listing id."""

from typing import Any

from django.utils import timezone

from core.errors import PermanentMarketplaceError
from marketplace.handlers.base import JobContext, StepInput, StepPlan
from marketplace.handlers.ebay import imports as ebay_imports
from marketplace.handlers.ebay import payloads
from marketplace.handlers.ebay.client import (
    INVENTORY,
    NOT_FOUND_IDS,
    EbayClient,
    error_ids,
    is_offer_exists,
)
from marketplace.handlers.ebay.orders import order_input
from marketplace.handlers.registry import register
from marketplace.rendering.mappings import Mappings
from marketplace.services.listings import listing_record
from marketplace.states import ListingStatus
from sales.services.cursor import sync_cursor_since
from sales.services.sync import sync_days, sync_listings_record, sync_orders_record

PAGE = 100
LISTING_URL = "https://www.ebay.com/itm/{listing_id}"


def _setup(ctx: JobContext) -> dict[str, Any]:
    """The connection's chosen business policies and inventory location."""
    return dict(ctx.usable_connection("ebay").setup)


def _offer_body(ctx: JobContext) -> dict[str, Any]:
    """The offer through the shop's mappings, with the connection's policies and location:
    without them eBay refuses to publish, so this fails before creating anything."""
    setup = _setup(ctx)
    if lacking := [k for k in (*payloads.SETUP_KEYS, payloads.LOCATION_KEY) if not setup.get(k)]:
        raise PermanentMarketplaceError(
            "The eBay connection has no business policies or inventory location chosen: "
            "read the account setup (POST /api/connections/ebay/setup/refresh/) and choose them.",
            details={"missing": lacking},
        )
    return payloads.offer(ctx.require_product(), ctx.client(Mappings.load), setup)


def _offer_id(client: EbayClient, ctx: JobContext, step: StepInput) -> str:
    """The offer for the product's SKU: reused when it exists, created otherwise."""
    product = ctx.require_product()
    known = (ctx.listing.data.get("offer_id") if ctx.listing else None) or None
    if known and not step.maybe_applied_before:
        return str(known)
    if step.maybe_applied_before and (found := client.find_offer(product.sku)) is not None:
        return str(found["offerId"])
    try:
        return client.create_offer(_offer_body(ctx))
    except PermanentMarketplaceError as error:
        if not is_offer_exists(error):
            raise
        found = client.find_offer(product.sku)
        if found is None:
            raise
        return str(found["offerId"])


def _put_inventory_item(client: EbayClient, ctx: JobContext) -> dict[str, Any]:
    """The inventory item is created or replaced by SKU: repeating it is always safe."""
    product = ctx.require_product()
    body = payloads.inventory_item(product, ctx.image_urls, ctx.client(Mappings.load))
    client.put_inventory_item(product.sku, body)
    return {"sku": product.sku}


@register("ebay", "publish")
class EbayPublish:
    def plan(self, ctx: JobContext) -> list[StepPlan]:
        product = ctx.require_product()
        if ctx.listing and ctx.listing.status == ListingStatus.ACTIVE and ctx.listing.external_id:
            return []  # already published: never twice
        item = f"{INVENTORY}/inventory_item/{product.sku}"
        return [
            StepPlan(
                "inventory_item",
                "Create or replace the inventory item",
                http_method="PUT",
                http_path=item,
            ),
            StepPlan(
                "offer",
                "Find or create the offer",
                http_method="POST",
                http_path=f"{INVENTORY}/offer",
            ),
            StepPlan(
                "publish",
                "Publish the offer",
                http_method="POST",
                http_path=f"{INVENTORY}/offer/{{offerId}}/publish",
            ),
        ]

    def run_step(self, ctx: JobContext, step: StepInput) -> dict[str, Any]:
        client = ctx.client(EbayClient.for_tenant, connection=ctx.connection)
        if step.name == "inventory_item":
            return _put_inventory_item(client, ctx)
        if step.name == "offer":
            return {"offer_id": _offer_id(client, ctx, step)}
        offer_id = step.previous["offer"]["offer_id"]
        return {"offer_id": offer_id, "listing_id": client.publish_offer(offer_id)}

    def finish(self, ctx: JobContext, results: dict[str, dict[str, Any]]) -> dict[str, Any]:
        ctx.require_product()
        if "publish" not in results:
            listing_id = ctx.listing.external_id if ctx.listing else ""
            return {"already_published": True, "listing_id": listing_id}
        listing_id = results["publish"]["listing_id"]
        # Written by the engine in the job's completion statement.
        ctx.record_listing(
            status=ListingStatus.ACTIVE,
            external_id=listing_id,
            url=LISTING_URL.format(listing_id=listing_id),
            data={"offer_id": results["publish"]["offer_id"]},
        )
        return {"listing_id": listing_id, "offer_id": results["publish"]["offer_id"]}


@register("ebay", "update")
class EbayUpdate:
    def plan(self, ctx: JobContext) -> list[StepPlan]:
        product = ctx.require_product()
        return [
            StepPlan(
                "inventory_item",
                "Replace the inventory item",
                http_method="PUT",
                http_path=f"{INVENTORY}/inventory_item/{product.sku}",
            ),
            StepPlan(
                "offer",
                "Update the offer",
                http_method="PUT",
                http_path=f"{INVENTORY}/offer/{{offerId}}",
            ),
        ]

    def run_step(self, ctx: JobContext, step: StepInput) -> dict[str, Any]:
        client = ctx.client(EbayClient.for_tenant, connection=ctx.connection)
        product = ctx.require_product()
        if step.name == "inventory_item":
            return _put_inventory_item(client, ctx)
        offer = client.find_offer(product.sku)
        if offer is None:
            raise PermanentMarketplaceError(
                f"eBay has no offer for SKU {product.sku}: publish it first."
            )
        client.update_offer(str(offer["offerId"]), _offer_body(ctx))
        return {"offer_id": str(offer["offerId"])}

    def finish(self, ctx: JobContext, results: dict[str, dict[str, Any]]) -> dict[str, Any]:
        return {"offer_id": results["offer"]["offer_id"]}


@register("ebay", "delete")
class EbayDelete:
    def plan(self, ctx: JobContext) -> list[StepPlan]:
        product = ctx.require_product()
        return [
            StepPlan(
                "withdraw",
                "Withdraw the offer",
                http_method="POST",
                http_path=f"{INVENTORY}/offer/{{offerId}}/withdraw",
            ),
            StepPlan(
                "inventory_item",
                "Delete the inventory item",
                http_method="DELETE",
                http_path=f"{INVENTORY}/inventory_item/{product.sku}",
            ),
        ]

    def run_step(self, ctx: JobContext, step: StepInput) -> dict[str, Any]:
        client = ctx.client(EbayClient.for_tenant, connection=ctx.connection)
        product = ctx.require_product()
        try:
            if step.name == "withdraw":
                offer = client.find_offer(product.sku)
                if offer is None:
                    return {"withdrawn": False}
                if offer.get("status") != "PUBLISHED":
                    # Nothing to end (e.g. an earlier attempt withdrew it and lost the answer):
                    # eBay refuses to withdraw an unpublished offer with a permanent 25002.
                    return {"withdrawn": False, "offer_id": str(offer["offerId"])}
                client.withdraw_offer(str(offer["offerId"]))
                return {"withdrawn": True, "offer_id": str(offer["offerId"])}
            client.delete_inventory_item(product.sku)
        except PermanentMarketplaceError as error:
            if error.status != 404 and not (error_ids(error) & NOT_FOUND_IDS):
                raise
            return {"deleted": False, "already_gone": True}  # a repeat after a lost answer
        return {"deleted": True}

    def finish(self, ctx: JobContext, results: dict[str, dict[str, Any]]) -> dict[str, Any]:
        listing_record(
            product=ctx.require_product(), marketplace="ebay", status=ListingStatus.DELETED
        )
        return {"withdrawn": results["withdraw"].get("withdrawn", False)}


@register("ebay", "sync_listings")
class EbaySyncListings:
    def plan(self, ctx: JobContext) -> list[StepPlan]:
        return [
            StepPlan(
                "inventory",
                "Read every inventory item (paged)",
                http_method="GET",
                http_path=f"{INVENTORY}/inventory_item",
            )
        ]

    def run_step(self, ctx: JobContext, step: StepInput) -> dict[str, Any]:
        """Every inventory item, with its offer: only a published offer is a live listing."""
        client = ctx.client(EbayClient.for_tenant, connection=ctx.connection)
        live: list[dict[str, Any]] = []
        count = offset = 0
        while True:
            ctx.heartbeat()  # one page per call: a long sync stays visibly alive
            page = client.inventory_items(limit=PAGE, offset=offset)
            items = page.get("inventoryItems") or []
            for item in items:
                offer = client.find_offer(str(item["sku"])) or {}
                if (found := ebay_imports.imported_item(item, offer)) is not None:
                    live.append(found.as_json())
            count += len(items)
            offset += len(items)
            if not items or offset >= int(page.get("total", 0)):
                return {"count": count, "live": live}

    def finish(self, ctx: JobContext, results: dict[str, dict[str, Any]]) -> dict[str, Any]:
        return sync_listings_record(
            marketplace="ebay", live=results["inventory"]["live"], input_data=ctx.job.input_data
        )


@register("ebay", "sync_orders")
class EbaySyncOrders:
    def plan(self, ctx: JobContext) -> list[StepPlan]:
        return [
            StepPlan(
                "orders",
                "Read orders (paged)",
                http_method="GET",
                http_path="/sell/fulfillment/v1/order",
            )
        ]

    def run_step(self, ctx: JobContext, step: StepInput) -> dict[str, Any]:
        client = ctx.client(EbayClient.for_tenant, connection=ctx.connection)
        fetched_at = timezone.now()
        since = sync_cursor_since(marketplace="ebay", days=sync_days(ctx.job.input_data))
        stamp = since.strftime("%Y-%m-%dT%H:%M:%S.000Z")
        orders: list[dict[str, Any]] = []
        offset = 0
        while True:
            ctx.heartbeat()
            page = client.orders(modified_since=stamp, limit=50, offset=offset)
            batch = page.get("orders") or []
            orders.extend(batch)
            offset += len(batch)
            if not batch or offset >= int(page.get("total", 0)):
                return {"orders": orders, "fetched_at": fetched_at.isoformat()}

    def finish(self, ctx: JobContext, results: dict[str, dict[str, Any]]) -> dict[str, Any]:
        return sync_orders_record(
            marketplace="ebay",
            orders=[order_input(order) for order in results["orders"]["orders"]],
            fetched_at=results["orders"].get("fetched_at"),
        )
