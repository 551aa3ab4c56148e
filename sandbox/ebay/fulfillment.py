"""eBay Sell Fulfillment API: the seller's orders, seeded on demand.

API reference: https://developer.ebay.com/api-docs/sell/fulfillment/resources/order/methods/getOrders
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, NoReturn

from sandbox.ebay.errors import FULFILLMENT, fail
from sandbox.ebay.paging import page_links, page_params
from sandbox.routing import Request, Response, Router

PREFIX = "/sell/fulfillment/v1"
_RANGE = re.compile(r"\[(.*?)\.\.(.*?)\]")
_STATUSES = re.compile(r"\{([A-Z_|]+)\}")
_FULFILLMENT_STATUSES = ("NOT_STARTED", "NOT_STARTED", "IN_PROGRESS", "FULFILLED")


def ebay_timestamp(moment: datetime) -> str:
    """eBay's timestamp format: UTC, milliseconds, a Z suffix."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _parse_timestamp(text: str) -> datetime | None:
    for pattern in ("%Y-%m-%dT%H:%M:%S.%fZ", "%Y-%m-%dT%H:%M:%SZ"):
        try:
            return datetime.strptime(text, pattern).replace(tzinfo=UTC)
        except ValueError:
            continue
    return None


def _amount(value: Decimal, currency: str = "USD") -> dict[str, str]:
    return {"value": f"{value:.2f}", "currency": currency}


OrderTest = Callable[[dict[str, Any]], bool]


def _bad_filter_value(name: str, value: str) -> NoReturn:
    fail(400, 30800, f"Invalid filter value {value} for filter {name}", domain=FULFILLMENT)


def _date_range_test(name: str, value: str) -> OrderTest:
    """`[start..end]`, either end open: eBay's date range filter syntax."""
    found = _RANGE.fullmatch(value)
    if found is None:
        _bad_filter_value(name, value)
    start, end = (_parse_timestamp(part) if part else None for part in found.groups())
    if (found[1] and start is None) or (found[2] and end is None):
        _bad_filter_value(name, value)
    key = "_creationDate" if name == "creationdate" else "_lastModifiedDate"
    return lambda order: (
        (start is None or order[key] >= start) and (end is None or order[key] <= end)
    )


def _status_test(wanted: set[str]) -> OrderTest:
    return lambda order: order["orderFulfillmentStatus"] in wanted


def _order_filter(text: str) -> OrderTest:
    """getOrders' `filter`: creationdate, lastmodifieddate and orderfulfillmentstatus criteria."""
    tests: list[OrderTest] = []
    for criterion in filter(None, text.split(",")):
        name, _, value = criterion.partition(":")
        if name in ("creationdate", "lastmodifieddate"):
            tests.append(_date_range_test(name, value))
        elif name == "orderfulfillmentstatus":
            found = _STATUSES.fullmatch(value)
            if found is None:
                _bad_filter_value(name, value)
            tests.append(_status_test(set(found[1].split("|"))))
        else:
            fail(400, 30700, f"Invalid filter name: {name}", domain=FULFILLMENT)
    return lambda order: all(test(order) for test in tests)


class FulfillmentApi:
    """Orders per seller; handlers run under the sandbox lock."""

    def __init__(
        self,
        authenticate: Callable[[Request], str],
        base_url: Callable[[], str],
        catalogue: Callable[[str], list[tuple[str, str, str | None]]],
        seed: int | None,
    ) -> None:
        self._authenticate = authenticate
        self._base_url = base_url
        self._catalogue = catalogue
        self._seed = seed
        self.reset()

    def reset(self) -> None:
        self._orders: dict[str, list[dict[str, Any]]] = {}  # by seller, newest first
        self._random = random.Random(self._seed)

    def register(self, router: Router) -> None:
        router.add("GET", f"{PREFIX}/order", self.get_orders)
        router.add("GET", f"{PREFIX}/order/{{orderId}}", self.get_order)

    def stats(self) -> dict[str, Any]:
        return {"orders": sum(len(orders) for orders in self._orders.values())}

    def seed(self, count: int, user: str) -> list[str]:
        """Create `count` paid orders over the last 30 days; line items use the seller's SKUs."""
        now = datetime.now(UTC)
        orders = self._orders.setdefault(user, [])
        created = [self._new_order(user, now) for _ in range(count)]
        orders.extend(created)
        orders.sort(key=lambda order: order["_creationDate"], reverse=True)
        return [order["orderId"] for order in created]

    def purchase(
        self, user: str, *, sku: str, quantity: int, sold: dict[str, Any]
    ) -> dict[str, Any]:
        """Record a buyer's purchase of a live listing as a new paid order, modified now."""
        now = datetime.now(UTC)
        unit = Decimal(str(sold["price"]["value"]))
        order = self._new_order(user, now)
        order.update(
            creationDate=ebay_timestamp(now),
            lastModifiedDate=ebay_timestamp(now),
            orderFulfillmentStatus="NOT_STARTED",
            _creationDate=now,
            _lastModifiedDate=now,
        )
        order["lineItems"] = [
            {
                "lineItemId": str(self._random.randint(10**10, 10**11 - 1)),
                "legacyItemId": sold["listing_id"],
                "sku": sku,
                "title": sold["title"],
                "quantity": quantity,
                "lineItemCost": _amount(unit * quantity),
                "total": _amount(unit * quantity),
                "lineItemFulfillmentStatus": "NOT_STARTED",
            }
        ]
        order["pricingSummary"]["total"] = _amount(unit * quantity)
        order["pricingSummary"]["priceSubtotal"] = _amount(unit * quantity)
        orders = self._orders.setdefault(user, [])
        orders.insert(0, order)
        return self._public(order)

    def cancel(self, user: str, order_id: str) -> dict[str, Any] | None:
        """The buyer's order is cancelled (and refunded): eBay's cancelState CANCELED."""
        for order in self._orders.get(user, []):
            if order["orderId"] == order_id:
                now = datetime.now(UTC)
                order["cancelStatus"] = {"cancelState": "CANCELED", "cancelRequests": []}
                order["orderPaymentStatus"] = "FULLY_REFUNDED"
                order.update(lastModifiedDate=ebay_timestamp(now), _lastModifiedDate=now)
                return self._public(order)
        return None

    def _new_order(self, user: str, now: datetime) -> dict[str, Any]:
        rng = self._random
        created = now - timedelta(seconds=rng.randint(60, 30 * 24 * 3600))
        modified = created + timedelta(minutes=rng.randint(1, 600))
        status = rng.choice(_FULFILLMENT_STATUSES)
        catalogue = self._catalogue(user) or [
            (f"SANDBOX-SKU-{rng.randint(1, 999):03d}", "Sandbox item", None)
        ]
        line_items, subtotal = [], Decimal(0)
        for _ in range(rng.choice((1, 1, 1, 2))):
            sku, title, listing_id = rng.choice(catalogue)
            quantity = rng.choice((1, 1, 2))
            price = Decimal(rng.randint(500, 20_000)) / 100
            subtotal += price * quantity
            line_items.append(
                {
                    "lineItemId": str(rng.randint(10**10, 10**11 - 1)),
                    "legacyItemId": listing_id or str(rng.randint(10**11, 10**12 - 1)),
                    "sku": sku,
                    "title": title,
                    "quantity": quantity,
                    "lineItemCost": _amount(price * quantity),
                    "total": _amount(price * quantity),
                    "lineItemFulfillmentStatus": status,
                }
            )
        order_id = f"{rng.randint(10, 99)}-{rng.randint(10000, 99999)}-{rng.randint(10000, 99999)}"
        return {
            "orderId": order_id,
            "legacyOrderId": f"{line_items[0]['legacyItemId']}-{rng.randint(10**12, 10**13 - 1)}",
            "creationDate": ebay_timestamp(created),
            "lastModifiedDate": ebay_timestamp(modified),
            "orderFulfillmentStatus": status,
            "orderPaymentStatus": "PAID",
            "sellerId": user,
            "buyer": {"username": f"buyer_{rng.randint(1000, 9999)}"},
            "pricingSummary": {
                "priceSubtotal": _amount(subtotal),
                "deliveryCost": _amount(Decimal(0)),
                "total": _amount(subtotal),
            },
            "cancelStatus": {"cancelState": "NONE_REQUESTED", "cancelRequests": []},
            "lineItems": line_items,
            "salesRecordReference": str(rng.randint(1000, 9999)),
            # Parsed copies for filtering; stripped from every answer.
            "_creationDate": created,
            "_lastModifiedDate": modified,
        }

    @staticmethod
    def _public(order: dict[str, Any]) -> dict[str, Any]:
        return {key: value for key, value in order.items() if not key.startswith("_")}

    def get_orders(self, request: Request) -> Response:
        """https://developer.ebay.com/api-docs/sell/fulfillment/resources/order/methods/getOrders"""
        orders = self._orders.get(self._authenticate(request), [])
        order_ids = request.arg("orderIds") or request.arg("orderids")
        if order_ids:
            wanted = order_ids.split(",")
            found = [self._public(order) for order in orders if order["orderId"] in wanted]
            url = self._base_url() + request.path
            body = {"href": f"{url}?orderIds={order_ids}", "total": len(found), "orders": found}
            return Response.json(body)
        paging = page_params(request, default_limit=50, max_limit=200)
        if paging is None:
            message = "Invalid limit or offset. The limit supports 1 - 200."
            fail(400, 30400, message, domain=FULFILLMENT)
        limit, offset = paging
        filter_text = request.arg("filter") or ""
        selected = _order_filter(filter_text)
        matching = [order for order in orders if selected(order)]
        query = {"filter": filter_text} if filter_text else {}
        url = self._base_url() + request.path
        return Response.json(
            {
                **page_links(url, query, limit=limit, offset=offset, total=len(matching)),
                "total": len(matching),
                "limit": limit,
                "offset": offset,
                "orders": [self._public(order) for order in matching[offset : offset + limit]],
            }
        )

    def get_order(self, request: Request) -> Response:
        """https://developer.ebay.com/api-docs/sell/fulfillment/resources/order/methods/getOrder"""
        order_id = request.params["orderId"]
        for order in self._orders.get(self._authenticate(request), []):
            if order["orderId"] == order_id:
                return Response.json(self._public(order))
        fail(404, 32100, f"Invalid order ID: {order_id}", domain=FULFILLMENT)
