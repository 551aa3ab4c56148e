"""Vinted handlers: publish, update, delete, sync_listings, sync_orders — every call runs in the
user's browser through the extension (VintedClient). Vinted has no SKU field, so each item's
description carries the product's marker `[ref:SKU]`: a create whose answer was lost is found
again in the wardrobe by that marker and adopted, never repeated."""

from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from core.errors import PermanentMarketplaceError
from marketplace.handlers.base import JobContext, StepInput, StepPlan
from marketplace.handlers.registry import register
from marketplace.handlers.vinted import payloads
from marketplace.handlers.vinted.client import VintedClient
from marketplace.handlers.vinted.imports import imported_item
from marketplace.handlers.vinted.orders import order_input
from marketplace.rendering.mappings import Mappings
from marketplace.services.listings import listing_record
from marketplace.states import ListingStatus, TaskType
from sales.services.cursor import sync_cursor_since
from sales.services.sync import sync_days, sync_listings_record, sync_orders_record

PER_PAGE = 96
ITEMS = "/api/v2/item_upload/items"


def _explained(error: PermanentMarketplaceError) -> PermanentMarketplaceError:
    """The error with Vinted's own code and field errors in its message: the relay keeps
    Vinted's body in `details`, and a job's error message is what a user reads."""
    body = error.details if isinstance(error.details, dict) else {}
    parts = [f"{e.get('field')} {e.get('value')}" for e in body.get("errors") or []]
    if not parts and body.get("message") and body.get("message") not in error.message:  # type: ignore[operator]
        parts.append(str(body["message"]))
    if "code" not in body and not parts:
        return error
    code = f"Vinted code {body['code']}" if "code" in body else "Vinted"
    message = (
        f"{error.message} ({code}: {'; '.join(parts)})" if parts else f"{error.message} ({code})"
    )
    return type(error)(message, status=error.status, details=body)


class _ExplainingClient(VintedClient):
    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            return super().call(method, path, **kwargs)
        except PermanentMarketplaceError as error:
            raise _explained(error) from error


def _client(ctx: JobContext) -> VintedClient:
    timeout = ctx.job.action_type.step_timeout.total_seconds()
    return _ExplainingClient(tenant=ctx.tenant_schema, timeout_s=timeout)


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
        images = payloads.images(ctx.image_urls)
        count = len(images)
        photos = [
            StepPlan(
                f"upload_photo_{n}",
                f"Upload photo {n}/{count}",
                task_type=TaskType.PLUGIN_HTTP,
                payload={"url": url},
                http_method="POST",
                http_path="/api/v2/photos",
            )
            for n, url in enumerate(images, start=1)
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
        # By photo number, not by name: "upload_photo_10" sorts before "upload_photo_2".
        uploads = {
            int(name.removeprefix("upload_photo_")): int(result["photo_id"])
            for name, result in step.previous.items()
            if name.startswith("upload_photo_")
        }
        photo_ids = [uploads[n] for n in sorted(uploads)]
        body = payloads.item_upload(product, photo_ids, ctx.client(Mappings.load))
        item = client.call("POST", ITEMS, body=body)["item"]
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
        body = {"item": payloads.item_fields(ctx.require_product(), ctx.client(Mappings.load))}
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
        live = [found.as_json() for item in items if (found := imported_item(item)) is not None]
        return {"count": len(items), "live": live}

    def finish(self, ctx: JobContext, results: dict[str, dict[str, Any]]) -> dict[str, Any]:
        return sync_listings_record(
            marketplace="vinted", live=results["wardrobe"]["live"], input_data=ctx.job.input_data
        )


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
        """Newest first: paging stops at the first page that reaches back past the cursor."""
        client = _client(ctx)
        fetched_at = timezone.now()
        since = sync_cursor_since(marketplace="vinted", days=sync_days(ctx.job.input_data))
        orders: list[dict[str, Any]] = []
        page = 1
        while True:
            body = client.call(
                "GET",
                "/api/v2/my_orders",
                params={"type": "sold", "status": "all", "page": page, "per_page": PER_PAGE},
            )
            batch = body.get("my_orders") or []
            orders.extend(batch)
            last = parse_datetime(str(batch[-1].get("date", ""))) if batch else None
            reached_known = last is not None and last < since
            if reached_known or page >= int(body.get("pagination", {}).get("total_pages", 1)):
                return {"orders": orders, "fetched_at": fetched_at.isoformat()}
            page += 1

    def finish(self, ctx: JobContext, results: dict[str, dict[str, Any]]) -> dict[str, Any]:
        return sync_orders_record(
            marketplace="vinted",
            orders=[order_input(order) for order in results["orders"]["orders"]],
            fetched_at=results["orders"].get("fetched_at"),
        )
