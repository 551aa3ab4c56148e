"""eBay handlers: publish, update, delete, sync_listings, sync_orders.

Publish is safe to repeat: the inventory item is PUT by SKU, an existing offer for the SKU is
reused (looked up first when an earlier attempt may have created it, or when eBay answers
25002 "offer already exists"), and publishing an already published offer returns the same
listing id."""

from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from core.errors import PermanentMarketplaceError
from marketplace.handlers.base import JobContext, StepInput, StepPlan
from marketplace.handlers.ebay import payloads
from marketplace.handlers.ebay.client import (
    INVENTORY,
    NOT_FOUND_IDS,
    EbayClient,
    error_ids,
    is_offer_exists,
)
from marketplace.handlers.registry import register
from marketplace.services.listings import (
    OrderData,
    listing_record,
    listings_mark_seen,
    orders_upsert,
)
from marketplace.states import ListingStatus

PAGE = 100
LISTING_URL = "https://www.ebay.com/itm/{listing_id}"


def _offer_id(client: EbayClient, ctx: JobContext, step: StepInput) -> str:
    """The offer for the product's SKU: reused when it exists, created otherwise."""
    product = ctx.require_product()
    known = (ctx.listing.data.get("offer_id") if ctx.listing else None) or None
    if known and not step.maybe_applied_before:
        return str(known)
    if step.maybe_applied_before and (found := client.find_offer(product.sku)) is not None:
        return str(found["offerId"])
    try:
        return client.create_offer(payloads.offer(product))
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
    client.put_inventory_item(product.sku, payloads.inventory_item(product, ctx.image_urls))
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
        client = ctx.client(EbayClient.for_tenant)
        if step.name == "inventory_item":
            return _put_inventory_item(client, ctx)
        if step.name == "offer":
            return {"offer_id": _offer_id(client, ctx, step)}
        offer_id = step.previous["offer"]["offer_id"]
        return {"offer_id": offer_id, "listing_id": client.publish_offer(offer_id)}

    def finish(self, ctx: JobContext, results: dict[str, dict[str, Any]]) -> dict[str, Any]:
        ctx.require_product()
        if "publish" not in results:
            return {"already_published": True, "listing_id": ctx.listing.external_id}
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
        client = ctx.client(EbayClient.for_tenant)
        product = ctx.require_product()
        if step.name == "inventory_item":
            return _put_inventory_item(client, ctx)
        offer = client.find_offer(product.sku)
        if offer is None:
            raise PermanentMarketplaceError(
                f"eBay has no offer for SKU {product.sku}: publish it first."
            )
        client.update_offer(str(offer["offerId"]), payloads.offer(product))
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
        client = ctx.client(EbayClient.for_tenant)
        product = ctx.require_product()
        try:
            if step.name == "withdraw":
                offer = client.find_offer(product.sku)
                if offer is None:
                    return {"withdrawn": False}
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
        client = ctx.client(EbayClient.for_tenant)
        skus: list[str] = []
        offset = 0
        while True:
            ctx.heartbeat()  # one page per call: a long sync stays visibly alive
            page = client.inventory_items(limit=PAGE, offset=offset)
            items = page.get("inventoryItems") or []
            skus.extend(str(item["sku"]) for item in items)
            offset += len(items)
            if not items or offset >= int(page.get("total", 0)):
                return {"skus": skus}

    def finish(self, ctx: JobContext, results: dict[str, dict[str, Any]]) -> dict[str, Any]:
        skus = results["inventory"]["skus"]
        linked = listings_mark_seen(marketplace="ebay", external_ids_by_sku=dict.fromkeys(skus, ""))
        return {"items": len(skus), "linked_products": linked}


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
        client = ctx.client(EbayClient.for_tenant)
        days = int(ctx.job.input_data.get("days", 30))
        since = (timezone.now() - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        orders: list[dict[str, Any]] = []
        offset = 0
        while True:
            ctx.heartbeat()
            page = client.orders(created_since=since, limit=50, offset=offset)
            batch = page.get("orders") or []
            orders.extend(batch)
            offset += len(batch)
            if not batch or offset >= int(page.get("total", 0)):
                return {"orders": orders}

    def finish(self, ctx: JobContext, results: dict[str, dict[str, Any]]) -> dict[str, Any]:
        rows = [
            OrderData(
                external_id=str(order["orderId"]),
                status=str(order.get("orderFulfillmentStatus", "")),
                total=Decimal(str(order["pricingSummary"]["total"]["value"]))
                if order.get("pricingSummary")
                else None,
                currency=str(order.get("pricingSummary", {}).get("total", {}).get("currency", "")),
                ordered_at=parse_datetime(str(order.get("creationDate", ""))),
                buyer=str(order.get("buyer", {}).get("username", "")),
                data=order,
            )
            for order in results["orders"]["orders"]
        ]
        return {"orders": orders_upsert(marketplace="ebay", orders=rows)}
