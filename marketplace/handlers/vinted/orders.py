"""Vinted sold orders (`GET /api/v2/my_orders?type=sold`, through the extension) as Relist
orders. A Vinted order sells one item: its one line is the item."""

from decimal import Decimal
from typing import Any

from django.utils.dateparse import parse_datetime

from sales.services.orders import LineData, OrderInput


def order_input(order: dict[str, Any]) -> OrderInput:
    price = order.get("price") or {}
    return OrderInput(
        external_id=str(order["transaction_id"]),
        status=str(order.get("status", "")),
        total=Decimal(str(price["amount"])) if "amount" in price else None,
        currency=str(price.get("currency_code", "")),
        ordered_at=parse_datetime(str(order.get("date", ""))),
        buyer=str((order.get("buyer") or {}).get("login", "")),
        data=order,
        lines=(
            LineData(
                line_id="1",
                quantity=1,
                external_listing_id=str(order.get("item_id") or ""),
                title=str(order.get("title") or ""),
            ),
        ),
    )
