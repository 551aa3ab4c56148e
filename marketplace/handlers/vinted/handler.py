"""Vinted handlers: publish, update, delete, sync_listings, sync_orders — every call runs in the
user's browser through the extension (VintedClient). Vinted has no SKU field, so each item's
description carries the product's marker `[ref:SKU]`: a create whose answer was lost is found
again in the wardrobe by that marker and adopted, never repeated."""

from decimal import Decimal
from typing import Any

from django.utils.dateparse import parse_datetime

from core.errors import PermanentMarketplaceError
from marketplace.handlers.base import JobContext, StepInput, StepPlan
from marketplace.handlers.registry import register
from marketplace.handlers.vinted import payloads
from marketplace.handlers.vinted.client import VintedClient
from marketplace.services.listings import (
    OrderData,
    listing_record,
    listings_mark_seen,
    orders_upsert,
)
from marketplace.states import ListingStatus, TaskType

PER_PAGE = 96
ITEMS = "/api/v2/item_upload/items"


def _client(ctx: JobContext) -> VintedClient:
    timeout = ctx.job.action_type.step_timeout.total_seconds()
    return VintedClient(tenant=ctx.tenant_schema, timeout_s=timeout)


def _wardrobe(client: VintedClient) -> list[dict[str, Any]]:
    user = client.call("GET", "/api/v2/users/current")["user"]
    items: list[dict[str, Any]] = []
    page = 1
    while True:
        body = client.call(
            "GET",
            f"/api/v2/wardrobe/{user['id']}/items",
            params={"page": page, "per_page": PER_PAGE, "order": "newest_first"},
        )
        items.extend(body.get("items") or [])
        if page >= int(body.get("pagination", {}).get("total_pages", 1)):
            return items
        page += 1


def _item_id(ctx: JobContext) -> int:
    if ctx.listing is None or not ctx.listing.external_id:
        raise PermanentMarketplaceError("This product has no Vinted item: publish it first.")
    return int(ctx.listing.external_id)


@register("vinted", "publish")
class VintedPublish:
    def plan(self, ctx: JobContext) -> list[StepPlan]:
        ctx.require_product()
        if ctx.listing and ctx.listing.status == ListingStatus.ACTIVE and ctx.listing.external_id:
            return []  # already published: never twice
        if not ctx.image_urls:
            raise PermanentMarketplaceError("Vinted needs at least one photo of the product.")
        count = len(ctx.image_urls)
        photos = [
            StepPlan(
                f"upload_photo_{n}",
                f"Upload photo {n}/{count}",
                task_type=TaskType.PLUGIN_HTTP,
                payload={"url": url},
                http_method="POST",
                http_path="/api/v2/photos",
            )
            for n, url in enumerate(ctx.image_urls, start=1)
        ]
        create = StepPlan(
            "create_item",
            "Create the item",
            task_type=TaskType.PLUGIN_HTTP,
            http_method="POST",
            http_path=ITEMS,
        )
        return [*photos, create]

    def run_step(self, ctx: JobContext, step: StepInput) -> dict[str, Any]:
        client = _client(ctx)
        if step.name.startswith("upload_photo_"):
            body = client.call(
                "POST", "/api/v2/photos", body={"photo_url": step.payload["url"], "type": "item"}
            )
            return {"photo_id": int(body["id"])}
        product = ctx.require_product()
        if step.maybe_applied_before:
            for item in _wardrobe(client):
                if payloads.sku_of(item) == product.sku:
                    return {"item_id": int(item["id"]), "url": item.get("url", ""), "adopted": True}
        photo_ids = [
            int(result["photo_id"])
            for name, result in sorted(step.previous.items())
            if name.startswith("upload_photo_")
        ]
        item = client.call("POST", ITEMS, body=payloads.item_upload(product, photo_ids))["item"]
        return {"item_id": int(item["id"]), "url": item.get("url", "")}

    def finish(self, ctx: JobContext, results: dict[str, dict[str, Any]]) -> dict[str, Any]:
        if "create_item" not in results:
            item_id = ctx.listing.external_id if ctx.listing else ""
            return {"already_published": True, "item_id": item_id}
        created = results["create_item"]
        listing_record(
            product=ctx.require_product(),
            marketplace="vinted",
            status=ListingStatus.ACTIVE,
            external_id=str(created["item_id"]),
            url=created["url"],
        )
        return created


@register("vinted", "update")
class VintedUpdate:
    def plan(self, ctx: JobContext) -> list[StepPlan]:
        item_id = _item_id(ctx)
        return [
            StepPlan(
                "update_item",
                "Update the item",
                task_type=TaskType.PLUGIN_HTTP,
                http_method="PUT",
                http_path=f"{ITEMS}/{item_id}",
            )
        ]

    def run_step(self, ctx: JobContext, step: StepInput) -> dict[str, Any]:
        item_id = _item_id(ctx)
        body = {"item": payloads.item_fields(ctx.require_product())}
        _client(ctx).call("PUT", f"{ITEMS}/{item_id}", body=body)
        return {"item_id": item_id}

    def finish(self, ctx: JobContext, results: dict[str, dict[str, Any]]) -> dict[str, Any]:
        return results["update_item"]


@register("vinted", "delete")
class VintedDelete:
    def plan(self, ctx: JobContext) -> list[StepPlan]:
        item_id = _item_id(ctx)
        return [
            StepPlan(
                "delete_item",
                "Delete the item",
                task_type=TaskType.PLUGIN_HTTP,
                http_method="POST",
                http_path=f"/api/v2/items/{item_id}/delete",
            )
        ]

    def run_step(self, ctx: JobContext, step: StepInput) -> dict[str, Any]:
        item_id = _item_id(ctx)
        try:
            _client(ctx).call("POST", f"/api/v2/items/{item_id}/delete")
        except PermanentMarketplaceError as error:
            if error.status != 404:
                raise
            return {"item_id": item_id, "already_gone": True}
        return {"item_id": item_id, "deleted": True}

    def finish(self, ctx: JobContext, results: dict[str, dict[str, Any]]) -> dict[str, Any]:
        listing_record(
            product=ctx.require_product(), marketplace="vinted", status=ListingStatus.DELETED
        )
        return results["delete_item"]


@register("vinted", "sync_listings")
class VintedSyncListings:
    def plan(self, ctx: JobContext) -> list[StepPlan]:
        return [
            StepPlan(
                "wardrobe",
                "Read the wardrobe (paged)",
                task_type=TaskType.PLUGIN_HTTP,
                http_method="GET",
                http_path="/api/v2/wardrobe/{user_id}/items",
            )
        ]

    def run_step(self, ctx: JobContext, step: StepInput) -> dict[str, Any]:
        items = _wardrobe(_client(ctx))
        return {
            "items": {payloads.sku_of(i) or "": str(i["id"]) for i in items},
            "count": len(items),
        }

    def finish(self, ctx: JobContext, results: dict[str, dict[str, Any]]) -> dict[str, Any]:
        by_sku = {sku: item for sku, item in results["wardrobe"]["items"].items() if sku}
        linked = listings_mark_seen(marketplace="vinted", external_ids_by_sku=by_sku)
        return {"items": results["wardrobe"]["count"], "linked_products": linked}


@register("vinted", "sync_orders")
class VintedSyncOrders:
    def plan(self, ctx: JobContext) -> list[StepPlan]:
        return [
            StepPlan(
                "orders",
                "Read sold orders (paged)",
                task_type=TaskType.PLUGIN_HTTP,
                http_method="GET",
                http_path="/api/v2/my_orders",
            )
        ]

    def run_step(self, ctx: JobContext, step: StepInput) -> dict[str, Any]:
        client = _client(ctx)
        orders: list[dict[str, Any]] = []
        page = 1
        while True:
            body = client.call(
                "GET",
                "/api/v2/my_orders",
                params={"type": "sold", "status": "all", "page": page, "per_page": PER_PAGE},
            )
            orders.extend(body.get("my_orders") or [])
            if page >= int(body.get("pagination", {}).get("total_pages", 1)):
                return {"orders": orders}
            page += 1

    def finish(self, ctx: JobContext, results: dict[str, dict[str, Any]]) -> dict[str, Any]:
        rows = [
            OrderData(
                external_id=str(order["transaction_id"]),
                status=str(order.get("status", "")),
                total=Decimal(str(order["price"]["amount"])) if order.get("price") else None,
                currency=str((order.get("price") or {}).get("currency_code", "")),
                ordered_at=parse_datetime(str(order.get("date", ""))),
                buyer=str((order.get("buyer") or {}).get("login", "")),
                data=order,
            )
            for order in results["orders"]["orders"]
        ]
        return {"orders": orders_upsert(marketplace="vinted", orders=rows)}
