"""Etsy handlers: publish, update, delete, sync_listings, sync_orders, get_shop, update_shop.

Publish is create draft → upload each image → activate, and is safe to repeat: it is skipped
when the tenant's listing is active; a create whose answer may have been lost looks the draft
up by SKU before creating another; an upload that may have landed checks the listing's images
for its rank first; activating an active listing changes nothing.
API reference: https://developers.etsy.com/documentation/reference#tag/ShopListing"""

from typing import Any

from django.utils import timezone

from core.errors import PermanentMarketplaceError
from marketplace.handlers.base import JobContext, StepInput, StepPlan
from marketplace.handlers.etsy import payloads
from marketplace.handlers.etsy.client import PAGE_LIMIT, EtsyClient
from marketplace.handlers.etsy.imports import imported_item
from marketplace.handlers.etsy.orders import order_input
from marketplace.handlers.registry import register
from marketplace.rendering.mappings import Mappings
from marketplace.services.listings import listing_record
from marketplace.states import ListingStatus
from sales.services.cursor import sync_cursor_since
from sales.services.sync import sync_days, sync_listings_record, sync_orders_record

SHOP = "/application/shops/{shop_id}"
SHOP_LISTING = SHOP + "/listings/{listing_id}"
APP_LISTING = "/application/listings/{listing_id}"


def _setup(ctx: JobContext) -> dict[str, Any]:
    """The connection's chosen shipping profile, processing profile and return policy."""
    return dict(ctx.usable_connection("etsy").setup)


def _listing_result(listing: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"listing_id": str(listing["listing_id"]), "url": listing.get("url", ""), **extra}


def _known_listing_id(client: EtsyClient, ctx: JobContext) -> str | None:
    """The product's Etsy listing: the tenant's record, else a listing carrying its SKU."""
    if ctx.listing is not None and ctx.listing.external_id:
        return ctx.listing.external_id
    found = client.find_listing_by_sku(ctx.require_product().sku)
    return str(found["listing_id"]) if found else None


@register("etsy", "publish")
class EtsyPublish:
    def plan(self, ctx: JobContext) -> list[StepPlan]:
        product = ctx.require_product()
        if ctx.listing and ctx.listing.status == ListingStatus.ACTIVE and ctx.listing.external_id:
            return []  # already published: never twice
        images = ctx.image_urls[: payloads.IMAGES_MAX]
        if not images:
            # Etsy refuses to activate a listing without an image: fail before creating a draft.
            raise PermanentMarketplaceError(
                "Etsy needs at least one image to publish a listing.",
                details={"sku": product.sku},
            )
        uploads = [
            StepPlan(
                f"upload_image_{rank}",
                f"Upload image {rank}/{len(images)}",
                payload={"url": url, "rank": rank},
                http_method="POST",
                http_path=SHOP_LISTING + "/images",
            )
            for rank, url in enumerate(images, start=1)
        ]
        return [
            StepPlan(
                "create_draft",
                "Create the draft listing",
                http_method="POST",
                http_path=SHOP + "/listings",
            ),
            # Etsy keeps SKUs in the inventory, not on the listing create: set it at once, so
            # syncs and reconciliation can find the listing by SKU.
            StepPlan(
                "set_inventory",
                "Set the SKU, price and quantity",
                http_method="PUT",
                http_path=APP_LISTING + "/inventory",
            ),
            *uploads,
            StepPlan(
                "activate", "Activate the listing", http_method="PATCH", http_path=SHOP_LISTING
            ),
        ]

    def run_step(self, ctx: JobContext, step: StepInput) -> dict[str, Any]:
        client = ctx.client(EtsyClient.for_tenant, connection=ctx.connection)
        if step.name == "create_draft":
            return self._create_draft(client, ctx, step)
        draft = step.previous["create_draft"]
        if step.name == "set_inventory":
            product = ctx.require_product()
            client.update_inventory(draft["listing_id"], payloads.inventory(product))
            return {"sku": product.sku}
        if step.name == "activate":
            listing = client.update_listing(draft["listing_id"], {"state": "active"})
            return _listing_result(listing, state=listing.get("state", ""))
        return self._upload(client, draft, step)

    @staticmethod
    def _create_draft(client: EtsyClient, ctx: JobContext, step: StepInput) -> dict[str, Any]:
        product = ctx.require_product()
        # An earlier attempt may have created the draft and lost the answer moments ago: adopt
        # it, looking among the most recent drafts only (never the whole shop on each retry).
        if step.maybe_applied_before and (found := client.find_recent_draft_by_sku(product.sku)):
            return _listing_result(found, reconciled=True)
        setup = _setup(ctx)
        if lacking := [key for key in payloads.SETUP_KEYS if not setup.get(key)]:
            # Etsy would create the draft and then refuse to activate it.
            raise PermanentMarketplaceError(
                "The Etsy connection has no shipping profile or processing profile chosen: "
                "read the account setup (POST /api/connections/etsy/setup/refresh/) and "
                "choose them.",
                details={"missing": lacking},
            )
        body = payloads.draft_listing(product, ctx.client(Mappings.load), setup)
        return _listing_result(client.create_draft_listing(body))

    @staticmethod
    def _upload(client: EtsyClient, draft: dict[str, Any], step: StepInput) -> dict[str, Any]:
        listing_id, rank = draft["listing_id"], int(step.payload["rank"])
        # An adopted draft may already hold images from the attempt that created it.
        if step.maybe_applied_before or draft.get("reconciled"):
            for image in client.listing_images(listing_id):
                if int(image.get("rank", 0)) == rank:
                    return {"listing_image_id": str(image["listing_image_id"]), "rank": rank}
        image = client.upload_listing_image(listing_id, image_url=step.payload["url"], rank=rank)
        return {"listing_image_id": str(image["listing_image_id"]), "rank": rank}

    def finish(self, ctx: JobContext, results: dict[str, dict[str, Any]]) -> dict[str, Any]:
        product = ctx.require_product()
        if "activate" not in results:
            known = ctx.listing.external_id if ctx.listing else ""
            return {"already_published": True, "listing_id": known}
        listing_id = results["activate"]["listing_id"]
        url = results["activate"]["url"] or results["create_draft"]["url"]
        images = sum(1 for name in results if name.startswith("upload_image_"))
        # Written by the engine in the job's completion statement.
        ctx.record_listing(
            status=ListingStatus.ACTIVE,
            external_id=listing_id,
            url=url,
            data={"listing_id": listing_id, **payloads.sale_terms(product)},
        )
        return {"listing_id": listing_id, "url": url, "images": images}


@register("etsy", "update")
class EtsyUpdate:
    def plan(self, ctx: JobContext) -> list[StepPlan]:
        product = ctx.require_product()
        steps = [
            StepPlan(
                "update_listing",
                "Update the listing's fields",
                http_method="PATCH",
                http_path=SHOP_LISTING,
            )
        ]
        recorded = ctx.listing.data if ctx.listing else {}
        terms = payloads.sale_terms(product)
        # Price and quantity live in the inventory, a separate call worth making only on change.
        if {key: recorded.get(key) for key in terms} != terms:
            steps.append(
                StepPlan(
                    "update_inventory",
                    "Update price and quantity",
                    http_method="PUT",
                    http_path="/application/listings/{listing_id}/inventory",
                )
            )
        return steps

    def run_step(self, ctx: JobContext, step: StepInput) -> dict[str, Any]:
        client = ctx.client(EtsyClient.for_tenant, connection=ctx.connection)
        product = ctx.require_product()
        if step.name == "update_inventory":
            listing_id = step.previous["update_listing"]["listing_id"]
            client.update_inventory(listing_id, payloads.inventory(product))
            return {"listing_id": listing_id, **payloads.sale_terms(product)}
        listing_id = _known_listing_id(client, ctx)
        if listing_id is None:
            raise PermanentMarketplaceError(
                f"Etsy has no listing for SKU {product.sku}: publish it first."
            )
        body = payloads.listing_update(product, ctx.client(Mappings.load))
        return _listing_result(client.update_listing(listing_id, body))

    def finish(self, ctx: JobContext, results: dict[str, dict[str, Any]]) -> dict[str, Any]:
        product = ctx.require_product()
        listing_id = results["update_listing"]["listing_id"]
        inventory = results.get("update_inventory")
        listing_record(
            product=product,
            marketplace="etsy",
            status=ListingStatus(ctx.listing.status) if ctx.listing else ListingStatus.ACTIVE,
            external_id=listing_id,
            data={"listing_id": listing_id, **(payloads.sale_terms(product) if inventory else {})},
        )
        return {"listing_id": listing_id, "inventory_updated": inventory is not None}


@register("etsy", "delete")
class EtsyDelete:
    def plan(self, ctx: JobContext) -> list[StepPlan]:
        ctx.require_product()
        return [
            StepPlan(
                "delete_listing",
                "Delete the listing",
                http_method="DELETE",
                http_path="/application/listings/{listing_id}",
            )
        ]

    def run_step(self, ctx: JobContext, step: StepInput) -> dict[str, Any]:
        client = ctx.client(EtsyClient.for_tenant, connection=ctx.connection)
        listing_id = _known_listing_id(client, ctx)
        if listing_id is None:
            return {"deleted": False, "already_gone": True}
        try:
            client.delete_listing(listing_id)
        except PermanentMarketplaceError as error:
            if error.status != 404:
                raise
            return {"listing_id": listing_id, "deleted": False, "already_gone": True}
        return {"listing_id": listing_id, "deleted": True}

    def finish(self, ctx: JobContext, results: dict[str, dict[str, Any]]) -> dict[str, Any]:
        listing_record(
            product=ctx.require_product(), marketplace="etsy", status=ListingStatus.DELETED
        )
        return results["delete_listing"]


@register("etsy", "sync_listings")
class EtsySyncListings:
    def plan(self, ctx: JobContext) -> list[StepPlan]:
        return [
            StepPlan(
                "listings",
                "Read the shop's active listings (paged)",
                http_method="GET",
                http_path=SHOP + "/listings",
            )
        ]

    def run_step(self, ctx: JobContext, step: StepInput) -> dict[str, Any]:
        client = ctx.client(EtsyClient.for_tenant, connection=ctx.connection)
        live = []
        for item in client.iter_listings(state="active"):
            ctx.heartbeat()  # rate-limited by the engine; keeps a long sync visibly alive
            live.append(imported_item(item).as_json())
        return {"count": len(live), "live": live}

    def finish(self, ctx: JobContext, results: dict[str, dict[str, Any]]) -> dict[str, Any]:
        return sync_listings_record(
            marketplace="etsy", live=results["listings"]["live"], input_data=ctx.job.input_data
        )


@register("etsy", "sync_orders")
class EtsySyncOrders:
    def plan(self, ctx: JobContext) -> list[StepPlan]:
        return [
            StepPlan(
                "receipts",
                "Read the shop's receipts (paged)",
                http_method="GET",
                http_path=SHOP + "/receipts",
            )
        ]

    def run_step(self, ctx: JobContext, step: StepInput) -> dict[str, Any]:
        client = ctx.client(EtsyClient.for_tenant, connection=ctx.connection)
        fetched_at = timezone.now()
        since = sync_cursor_since(marketplace="etsy", days=sync_days(ctx.job.input_data))
        receipts: list[dict[str, Any]] = []
        while True:
            ctx.heartbeat()  # one page per call: a long sync stays visibly alive
            page = client.receipts(
                min_last_modified=int(since.timestamp()), limit=PAGE_LIMIT, offset=len(receipts)
            )
            batch = page.get("results") or []
            receipts.extend(batch)
            if not batch or len(receipts) >= int(page.get("count", 0)):
                return {"receipts": receipts, "fetched_at": fetched_at.isoformat()}

    def finish(self, ctx: JobContext, results: dict[str, dict[str, Any]]) -> dict[str, Any]:
        return sync_orders_record(
            marketplace="etsy",
            orders=[order_input(receipt) for receipt in results["receipts"]["receipts"]],
            fetched_at=results["receipts"].get("fetched_at"),
        )


@register("etsy", "get_shop")
class EtsyGetShop:
    def plan(self, ctx: JobContext) -> list[StepPlan]:
        return [StepPlan("shop", "Read the shop", http_method="GET", http_path=SHOP)]

    def run_step(self, ctx: JobContext, step: StepInput) -> dict[str, Any]:
        return {"shop": ctx.client(EtsyClient.for_tenant, connection=ctx.connection).get_shop()}

    def finish(self, ctx: JobContext, results: dict[str, dict[str, Any]]) -> dict[str, Any]:
        return {"shop": results["shop"]["shop"]}


@register("etsy", "update_shop")
class EtsyUpdateShop:
    def plan(self, ctx: JobContext) -> list[StepPlan]:
        changes = payloads.shop_changes(ctx.job.input_data)
        return [
            StepPlan(
                "update_shop",
                f"Update the shop ({', '.join(sorted(changes))})",
                payload=changes,
                http_method="PUT",
                http_path=SHOP,
            )
        ]

    def run_step(self, ctx: JobContext, step: StepInput) -> dict[str, Any]:
        return {
            "shop": ctx.client(EtsyClient.for_tenant, connection=ctx.connection).update_shop(
                step.payload
            )
        }

    def finish(self, ctx: JobContext, results: dict[str, dict[str, Any]]) -> dict[str, Any]:
        return {"shop": results["update_shop"]["shop"], "updated": sorted(ctx.job.input_data)}
