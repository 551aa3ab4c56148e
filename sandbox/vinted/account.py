"""A simulated Vinted account: the state behind the simulator's `/api/v2` answers.

The simulator's loop thread mutates it while tests, the demo and benchmarks read it from other
threads, so every access holds one re-entrant lock and readers get deep copies, never live dicts.
Ids are sequential from configurable starts (not random) so tests can assert exact values; the
defaults have the magnitude of real Vinted ids.
"""

from __future__ import annotations

import copy
import itertools
import math
import re
import threading
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

__all__ = ["WARDROBE_ORDERS", "ItemFields", "VintedAccount", "paginate"]

# Vinted's wardrobe `order` values; "relevance" has no meaning for one seller, so it is newest.
WARDROBE_ORDERS = (
    "newest_first",
    "oldest_first",
    "relevance",
    "price_low_to_high",
    "price_high_to_low",
)
# The fixed size reported for every uploaded photo: decoding images would need Pillow, and no
# caller of the simulator relies on real dimensions.
PHOTO_SIZE = (800, 1200)


@dataclass(frozen=True)
class ItemFields:
    """The validated content of a listing, as accepted by `item_upload`."""

    title: str
    description: str
    price: Decimal
    currency: str
    photo_ids: tuple[int, ...]
    catalog_id: int | None = None
    brand_id: int | None = None
    size_id: int | None = None
    status_id: int | None = None
    package_size_id: int | None = None
    color_ids: tuple[int, ...] = ()


@dataclass
class _Item:
    id: int
    fields: ItemFields
    created_at: datetime
    updated_at: datetime
    closing_action: str | None = None  # "sold" once an order closes it


@dataclass(frozen=True)
class _Order:
    type: str  # "sold" or "purchased"
    body: dict[str, Any]


def paginate(rows: list[Any], page: int, per_page: int) -> tuple[list[Any], dict[str, int]]:
    """One page of rows plus Vinted's `pagination` object (pages past the end are empty)."""
    start = (page - 1) * per_page
    pagination = {
        "current_page": page,
        "total_pages": math.ceil(len(rows) / per_page),
        "total_entries": len(rows),
        "per_page": per_page,
    }
    return rows[start : start + per_page], pagination


def _slug(title: str) -> str:
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_title.lower()).strip("-")
    return slug[:80].rstrip("-") or "item"


def _money(amount: Decimal, currency: str) -> dict[str, str]:
    return {"amount": f"{amount:.2f}", "currency_code": currency}


class VintedAccount:
    """One logged-in Vinted seller: wardrobe, uploaded photos and orders."""

    def __init__(
        self,
        *,
        user_id: int = 51_000_001,
        login: str = "relist_sim",
        domain: str = "www.vinted.fr",
        currency: str = "EUR",
        first_item_id: int = 4_000_000_001,
        first_photo_id: int = 17_000_000_001,
        first_transaction_id: int = 9_000_000_001,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.user_id = user_id
        self.login = login
        self.domain = domain
        self.currency = currency
        self._clock = clock or (lambda: datetime.now(UTC))
        self._lock = threading.RLock()
        self._items: dict[int, _Item] = {}
        self._deleted: dict[int, _Item] = {}
        self._photos: dict[int, dict[str, Any]] = {}
        self._orders: list[_Order] = []
        self._created: list[int] = []
        self._item_ids = itertools.count(first_item_id)
        self._photo_ids = itertools.count(first_photo_id)
        self._transaction_ids = itertools.count(first_transaction_id)

    # --- inspection (snapshots, safe from any thread) -------------------------------------------

    @property
    def wardrobe(self) -> dict[int, dict[str, Any]]:
        """Live listings by id (deleted ones excluded)."""
        with self._lock:
            return {item_id: self._render(item) for item_id, item in self._items.items()}

    @property
    def deleted_items(self) -> dict[int, dict[str, Any]]:
        with self._lock:
            return {item_id: self._render(item) for item_id, item in self._deleted.items()}

    @property
    def items_created(self) -> list[int]:
        """Ids created through `item_upload`, in order, deleted ones included (seeds excluded)."""
        with self._lock:
            return list(self._created)

    @property
    def photos(self) -> dict[int, dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(self._photos)

    @property
    def orders(self) -> list[dict[str, Any]]:
        with self._lock:
            return [copy.deepcopy(order.body) for order in self._orders]

    def find_items(self, marker: str, *, include_deleted: bool = False) -> list[dict[str, Any]]:
        """Listings whose description contains `marker` (Relist embeds e.g. `[ref:SKU123]`)."""
        with self._lock:
            pool: Iterable[_Item] = self._items.values()
            if include_deleted:
                pool = itertools.chain(pool, self._deleted.values())
            return [self._render(item) for item in pool if marker in item.fields.description]

    def count_items_with_marker(self, marker: str, *, include_deleted: bool = False) -> int:
        return len(self.find_items(marker, include_deleted=include_deleted))

    # --- photos ---------------------------------------------------------------------------------

    def add_photo(
        self, *, source_url: str, temp_uuid: str | None = None, size_bytes: int = 0
    ) -> dict[str, Any]:
        with self._lock:
            photo_id = next(self._photo_ids)
            width, height = PHOTO_SIZE
            photo = {
                "id": photo_id,
                "image_no": 1,
                "url": f"https://images1.vinted.net/t/sim/f800/{photo_id}.jpeg",
                "temp_uuid": temp_uuid,
                "width": width,
                "height": height,
                "source_url": source_url,
                "size_bytes": size_bytes,
            }
            self._photos[photo_id] = photo
            return copy.deepcopy(photo)

    def has_photo(self, photo_id: int) -> bool:
        with self._lock:
            return photo_id in self._photos

    # --- items ----------------------------------------------------------------------------------

    def create_item(self, fields: ItemFields) -> dict[str, Any]:
        """A listing created through the API (counted in `items_created`)."""
        with self._lock:
            item = self._insert(fields)
            self._created.append(item.id)
            return self._render(item)

    def seed_item(
        self,
        *,
        title: str,
        description: str = "",
        price: str = "10.00",
        photo_urls: Iterable[str] = ("http://127.0.0.1/seed.jpg",),
        **extra: Any,
    ) -> dict[str, Any]:
        """A listing that predates Relist (e.g. for sync tests); not in `items_created`. Like
        every Vinted item it has a catalog and a condition (defaults: jackets, good)."""
        extra = {"catalog_id": 1206, "status_id": 3, **extra}
        with self._lock:
            photo_ids = tuple(self.add_photo(source_url=url)["id"] for url in photo_urls)
            fields = ItemFields(
                title=title,
                description=description,
                price=Decimal(price),
                currency=self.currency,
                photo_ids=photo_ids,
                **extra,
            )
            return self._render(self._insert(fields))

    def item_fields(self, item_id: int) -> ItemFields | None:
        with self._lock:
            item = self._items.get(item_id)
            return item.fields if item else None

    def get_item(self, item_id: int) -> dict[str, Any] | None:
        with self._lock:
            item = self._items.get(item_id)
            return self._render(item) if item else None

    def update_item(self, item_id: int, fields: ItemFields) -> dict[str, Any] | None:
        with self._lock:
            item = self._items.get(item_id)
            if item is None:
                return None
            item.fields = fields
            item.updated_at = self._clock()
            return self._render(item)

    def delete_item(self, item_id: int) -> bool:
        with self._lock:
            item = self._items.pop(item_id, None)
            if item is None:
                return False
            self._deleted[item_id] = item
            return True

    def wardrobe_page(
        self, *, page: int, per_page: int, order: str = "newest_first"
    ) -> tuple[list[dict[str, Any]], dict[str, int]]:
        with self._lock:
            items = sorted(self._items.values(), key=lambda item: item.id)
            if order in ("newest_first", "relevance"):
                items.reverse()
            elif order == "price_low_to_high":
                items.sort(key=lambda item: item.fields.price)
            elif order == "price_high_to_low":
                items.sort(key=lambda item: item.fields.price, reverse=True)
            rows, pagination = paginate(items, page, per_page)
            return [self._render(item) for item in rows], pagination

    # --- orders ---------------------------------------------------------------------------------

    def seed_order(
        self,
        *,
        title: str,
        price: str = "10.00",
        item_id: int | None = None,
        status: str = "completed",
        order_type: str = "sold",
        buyer_id: int = 61_000_001,
        buyer_login: str = "sim_buyer",
        date: datetime | None = None,
    ) -> dict[str, Any]:
        """Record a sale (or purchase); selling a wardrobe item closes it as sold."""
        with self._lock:
            transaction_id = next(self._transaction_ids)
            body = {
                "transaction_id": transaction_id,
                "conversation_id": transaction_id + 1_000_000_000,
                "title": title,
                "price": _money(Decimal(price), self.currency),
                "status": status,
                "date": (date or self._clock()).isoformat(timespec="seconds"),
                "item_id": item_id,
                "buyer": {"id": buyer_id, "login": buyer_login},
            }
            self._orders.append(_Order(type=order_type, body=body))
            item = self._items.get(item_id) if item_id is not None else None
            if item is not None and order_type == "sold":
                item.closing_action = "sold"
            return copy.deepcopy(body)

    def orders_page(
        self, *, order_type: str, status: str, page: int, per_page: int
    ) -> tuple[list[dict[str, Any]], dict[str, int]]:
        with self._lock:
            rows = [
                copy.deepcopy(order.body)
                for order in reversed(self._orders)  # newest first, as Vinted lists them
                if order.type == order_type and status in ("all", order.body["status"])
            ]
            return paginate(rows, page, per_page)

    # --- internals (callers hold the lock) ------------------------------------------------------

    def _insert(self, fields: ItemFields) -> _Item:
        now = self._clock()
        item = _Item(id=next(self._item_ids), fields=fields, created_at=now, updated_at=now)
        self._items[item.id] = item
        return item

    def _render(self, item: _Item) -> dict[str, Any]:
        fields = item.fields
        path = f"/items/{item.id}-{_slug(fields.title)}"
        return {
            "id": item.id,
            "user_id": self.user_id,
            "title": fields.title,
            "description": fields.description,
            "price": _money(fields.price, fields.currency),
            "currency": fields.currency,
            "catalog_id": fields.catalog_id,
            "brand_id": fields.brand_id,
            "size_id": fields.size_id,
            "status_id": fields.status_id,
            "package_size_id": fields.package_size_id,
            "color_ids": list(fields.color_ids),
            "photos": [self._render_photo(pid, n) for n, pid in enumerate(fields.photo_ids, 1)],
            "status": item.closing_action or "active",
            "is_draft": False,
            "is_closed": item.closing_action is not None,
            "is_hidden": False,
            "item_closing_action": item.closing_action,
            "path": path,
            "url": f"https://{self.domain}{path}",
            "created_at": item.created_at.isoformat(timespec="seconds"),
            "updated_at": item.updated_at.isoformat(timespec="seconds"),
        }

    def _render_photo(self, photo_id: int, image_no: int) -> dict[str, Any]:
        photo = self._photos.get(photo_id, {})
        return {
            "id": photo_id,
            "image_no": image_no,
            "url": photo.get("url"),
            "is_main": image_no == 1,
        }
