"""The Vinted side of an `api_call`: routes `/api/v2/...` calls to a `VintedAccount`.

Shapes follow Vinted's internal web API as seen from a logged-in browser (the same calls the real
extension replays through Vinted's own Axios instance); see MARKETPLACES.md §4. Errors carry a
Vinted-like body (`{"code", "message"}`, validation errors with code 99 and `errors[]`) and the
message doubles as the result's `error` string.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests

from sandbox.vinted.account import WARDROBE_ORDERS, ItemFields, VintedAccount

__all__ = ["PHOTO_FETCH_FAILED", "ApiResponse", "PhotoFetchError", "VintedApi", "fetch_photo"]

logger = logging.getLogger(__name__)

PHOTO_FETCH_FAILED = "photo could not be fetched"
MAX_PER_PAGE = 96  # Vinted's web client never asks for more; larger values are clamped
_OPTIONAL_IDS = ("catalog_id", "brand_id", "size_id", "status_id", "package_size_id")
# The upload form's own limits (Vinted has no public API; as its web app enforces them).
_REQUIRED_IDS = ("catalog_id", "status_id")
_TEXT_LIMITS = {"title": 100, "description": 2000}
MAX_COLORS = 2
_ORDER_TYPES = {"sold": "sold", "purchased": "purchased", "bought": "purchased"}


@dataclass(frozen=True)
class ApiResponse:
    status: int
    body: Any = None
    error: str | None = None
    headers: dict[str, str] | None = None

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


class _Rejected(Exception):  # control flow: carries the answer out of nested validation
    def __init__(self, response: ApiResponse) -> None:
        super().__init__(response.error)
        self.response = response


class PhotoFetchError(Exception):
    pass


def _error(status: int, message: str) -> ApiResponse:
    return ApiResponse(status, {"code": status, "message": message}, message)


def _validation_failed(errors: list[dict[str, str]]) -> ApiResponse:
    body = {
        "code": 99,
        "message": "Validation failed",
        "message_code": "validation_error",
        "errors": errors,
    }
    return ApiResponse(422, body, "Validation failed")


def fetch_photo(url: str, *, timeout: float, max_bytes: int) -> int:
    """GET the photo like the extension does before uploading it; returns its size in bytes."""
    if urlsplit(url).scheme not in ("http", "https"):
        raise PhotoFetchError(f"unsupported scheme in {url!r}")
    size = 0
    with requests.Session() as session:
        session.trust_env = False  # sandbox traffic is loopback: never route through an env proxy
        try:
            with session.get(url, timeout=timeout, stream=True) as response:
                response.raise_for_status()
                for chunk in response.iter_content(64 * 1024):
                    size += len(chunk)
                    if size > max_bytes:
                        raise PhotoFetchError(f"photo larger than {max_bytes} bytes")
        except requests.RequestException as exc:
            raise PhotoFetchError(str(exc)) from exc
    if size == 0:
        raise PhotoFetchError("empty photo")
    return size


def _int_param(query: Mapping[str, Any], name: str, default: int, *, maximum: int) -> int:
    try:
        value = int(query.get(name, default))
    except (TypeError, ValueError):
        raise _Rejected(_error(400, f"invalid {name}")) from None
    if value < 1:
        raise _Rejected(_error(400, f"invalid {name}"))
    return min(value, maximum)


def _parse_price(raw: Any) -> Decimal | None:
    if isinstance(raw, bool) or not isinstance(raw, str | int | float):
        return None
    try:
        price = Decimal(str(raw))
    except InvalidOperation:
        return None
    if not price.is_finite() or price <= 0:
        return None
    return price.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _text_and_required_errors(raw: Mapping[str, Any]) -> list[dict[str, str]]:
    errors: list[dict[str, str]] = []
    for name, limit in _TEXT_LIMITS.items():
        value = raw.get(name)
        if not isinstance(value, str) or not value.strip():
            errors.append({"field": name, "value": "can't be blank"})
        elif len(value.strip()) > limit:
            errors.append({"field": name, "value": f"is too long (maximum is {limit} characters)"})
    for name in _REQUIRED_IDS:
        if raw.get(name) is None:
            errors.append({"field": name, "value": "can't be blank"})
    return errors


def _color_errors(color_ids: Any) -> list[dict[str, str]]:
    """Colours travel as `color_ids`, at most two (MARKETPLACES §6)."""
    if not isinstance(color_ids, list) or not all(_is_int(c) for c in color_ids):
        return [{"field": "color_ids", "value": "is invalid"}]
    if len(color_ids) > MAX_COLORS:
        return [{"field": "color_ids", "value": f"must contain at most {MAX_COLORS} colours"}]
    return []


def _fields_to_raw(fields: ItemFields) -> dict[str, Any]:
    """An item as an `item_upload` payload, so a PUT can overlay only the keys it sends."""
    raw: dict[str, Any] = {
        "title": fields.title,
        "description": fields.description,
        "price": f"{fields.price:.2f}",
        "currency": fields.currency,
        "assigned_photos": [{"id": pid, "orientation": 0} for pid in fields.photo_ids],
        "color_ids": list(fields.color_ids),
    }
    raw.update({name: getattr(fields, name) for name in _OPTIONAL_IDS})
    return raw


class VintedApi:
    """Answers one `api_call` command as Vinted would for `account`."""

    def __init__(
        self,
        account: VintedAccount,
        *,
        fetch_photos: bool = True,
        photo_timeout_s: float = 5.0,
        max_photo_bytes: int = 20 * 1024 * 1024,
    ) -> None:
        self.account = account
        self.fetch_photos = fetch_photos
        self.photo_timeout_s = photo_timeout_s
        self.max_photo_bytes = max_photo_bytes
        Handler = Callable[..., Awaitable[ApiResponse]]
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = [
            ("GET", re.compile(r"/api/v2/users/current"), self._current_user),
            ("POST", re.compile(r"/api/v2/photos"), self._upload_photo),
            ("POST", re.compile(r"/api/v2/item_upload/items"), self._create_item),
            ("PUT", re.compile(r"/api/v2/item_upload/items/(?P<item_id>\d+)"), self._update_item),
            ("GET", re.compile(r"/api/v2/item_upload/items/(?P<item_id>\d+)"), self._get_item),
            ("GET", re.compile(r"/api/v2/items/(?P<item_id>\d+)"), self._get_item),
            ("POST", re.compile(r"/api/v2/items/(?P<item_id>\d+)/delete"), self._delete_item),
            ("GET", re.compile(r"/api/v2/wardrobe/(?P<user_id>\d+)/items"), self._wardrobe),
            ("GET", re.compile(r"/api/v2/my_orders"), self._my_orders),
        ]

    async def handle(
        self, method: str, path: str, body: Any = None, params: Mapping[str, Any] | None = None
    ) -> ApiResponse:
        # The old system sent full URLs as well as paths; accept both, and a query in either.
        split = urlsplit(path)
        route_path = split.path.rstrip("/") or "/"
        query: dict[str, Any] = {key: values[-1] for key, values in parse_qs(split.query).items()}
        query.update({key: value for key, value in (params or {}).items() if value is not None})
        path_known = False
        for route_method, pattern, handler in self._routes:
            match = pattern.fullmatch(route_path)
            if match is None:
                continue
            path_known = True
            if route_method == method.upper():
                try:
                    return await handler(body, query, **match.groupdict())
                except _Rejected as rejected:
                    return rejected.response
        if path_known:
            return _error(405, "method not allowed")
        return _error(404, "not found")

    # --- handlers -------------------------------------------------------------------------------

    async def _current_user(self, body: Any, query: Mapping[str, Any]) -> ApiResponse:
        return ApiResponse(200, {"user": {"id": self.account.user_id, "login": self.account.login}})

    async def _upload_photo(self, body: Any, query: Mapping[str, Any]) -> ApiResponse:
        payload = body if isinstance(body, dict) else {}
        url = payload.get("photo_url")
        if not isinstance(url, str) or not url.strip():
            return _validation_failed([{"field": "photo_url", "value": "can't be blank"}])
        size = 0
        if self.fetch_photos:
            try:
                size = await asyncio.to_thread(
                    fetch_photo, url, timeout=self.photo_timeout_s, max_bytes=self.max_photo_bytes
                )
            except PhotoFetchError as exc:
                logger.info("vinted_sim.photo_fetch_failed", extra={"url": url, "reason": str(exc)})
                return _error(400, PHOTO_FETCH_FAILED)
        temp_uuid = payload.get("temp_uuid")
        photo = self.account.add_photo(
            source_url=url,
            temp_uuid=temp_uuid if isinstance(temp_uuid, str) else None,
            size_bytes=size,
        )
        public = ("id", "image_no", "url", "temp_uuid", "width", "height")
        return ApiResponse(200, {key: photo[key] for key in public})

    async def _create_item(self, body: Any, query: Mapping[str, Any]) -> ApiResponse:
        fields = self._parse_item(self._item_payload(body))
        return ApiResponse(200, {"item": self.account.create_item(fields)})

    async def _update_item(self, body: Any, query: Mapping[str, Any], item_id: str) -> ApiResponse:
        current = self.account.item_fields(int(item_id))
        if current is None:
            return _error(404, "item not found")
        changes = {key: value for key, value in self._item_payload(body).items() if key != "id"}
        fields = self._parse_item({**_fields_to_raw(current), **changes})
        item = self.account.update_item(int(item_id), fields)
        if item is None:  # deleted between the read and the write
            return _error(404, "item not found")
        return ApiResponse(200, {"item": item})

    async def _get_item(self, body: Any, query: Mapping[str, Any], item_id: str) -> ApiResponse:
        item = self.account.get_item(int(item_id))
        if item is None:
            return _error(404, "item not found")
        return ApiResponse(200, {"item": item})

    async def _delete_item(self, body: Any, query: Mapping[str, Any], item_id: str) -> ApiResponse:
        if not self.account.delete_item(int(item_id)):
            return _error(404, "item not found")
        return ApiResponse(200, {"code": 0})

    async def _wardrobe(self, body: Any, query: Mapping[str, Any], user_id: str) -> ApiResponse:
        if int(user_id) != self.account.user_id:
            return _error(404, "user not found")
        order = query.get("order", "newest_first")
        if order not in WARDROBE_ORDERS:
            return _error(400, "invalid order")
        items, pagination = self.account.wardrobe_page(
            page=_int_param(query, "page", 1, maximum=10**6),
            per_page=_int_param(query, "per_page", 20, maximum=MAX_PER_PAGE),
            order=order,
        )
        return ApiResponse(200, {"items": items, "pagination": pagination})

    async def _my_orders(self, body: Any, query: Mapping[str, Any]) -> ApiResponse:
        order_type = _ORDER_TYPES.get(str(query.get("type", "sold")))
        if order_type is None:
            return _error(400, "invalid type")
        orders, pagination = self.account.orders_page(
            order_type=order_type,
            status=str(query.get("status", "all")),
            page=_int_param(query, "page", 1, maximum=10**6),
            per_page=_int_param(query, "per_page", 20, maximum=MAX_PER_PAGE),
        )
        return ApiResponse(200, {"my_orders": orders, "pagination": pagination})

    # --- validation -----------------------------------------------------------------------------

    @staticmethod
    def _item_payload(body: Any) -> dict[str, Any]:
        item = body.get("item") if isinstance(body, dict) else None
        if not isinstance(item, dict):
            raise _Rejected(_validation_failed([{"field": "item", "value": "can't be blank"}]))
        return item

    def _parse_item(self, raw: Mapping[str, Any]) -> ItemFields:
        """Validate like Vinted's upload form; all errors are reported at once."""
        errors = _text_and_required_errors(raw)
        price = _parse_price(raw.get("price"))
        if price is None:
            errors.append({"field": "price", "value": "must be greater than 0"})
        currency = raw.get("currency") or self.account.currency
        if not isinstance(currency, str) or not re.fullmatch(r"[A-Z]{3}", currency):
            errors.append({"field": "currency", "value": "is invalid"})
        photo_ids = self._photo_ids(raw.get("assigned_photos"), errors)
        for name in _OPTIONAL_IDS:
            if raw.get(name) is not None and not _is_int(raw.get(name)):
                errors.append({"field": name, "value": "is not a number"})
        color_ids = raw.get("color_ids") or []
        errors.extend(_color_errors(color_ids))
        if errors or price is None:
            raise _Rejected(_validation_failed(errors))
        return ItemFields(
            title=raw["title"].strip(),
            description=raw["description"],
            price=price,
            currency=currency,
            photo_ids=photo_ids,
            color_ids=tuple(color_ids),
            **{name: raw.get(name) for name in _OPTIONAL_IDS},
        )

    def _photo_ids(self, assigned: Any, errors: list[dict[str, str]]) -> tuple[int, ...]:
        if not isinstance(assigned, list) or not assigned:
            errors.append({"field": "assigned_photos", "value": "must contain at least one photo"})
            return ()
        photo_ids: list[int] = []
        for entry in assigned:
            photo_id = entry.get("id") if isinstance(entry, dict) else None
            if (
                not isinstance(photo_id, int)
                or not _is_int(photo_id)
                or not self.account.has_photo(photo_id)
            ):
                errors.append({"field": "assigned_photos", "value": f"photo {photo_id} not found"})
            else:
                photo_ids.append(photo_id)
        return tuple(photo_ids)
