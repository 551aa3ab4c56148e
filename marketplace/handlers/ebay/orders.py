"""eBay orders as Relist orders with lines.
https://developer.ebay.com/api-docs/sell/fulfillment/resources/order/methods/getOrders"""

from decimal import Decimal
from typing import Any

from django.utils.dateparse import parse_datetime

from sales.services.orders import LineData, OrderInput


def order_status(order: dict[str, Any]) -> str:
    """A cancelled or refunded order says so; otherwise its fulfilment status."""
    if (order.get("cancelStatus") or {}).get("cancelState") == "CANCELED":
        return "cancelled"
    if order.get("orderPaymentStatus") == "FULLY_REFUNDED":
        return "refunded"
    return str(order.get("orderFulfillmentStatus", ""))


def order_input(order: dict[str, Any]) -> OrderInput:
    total = (order.get("pricingSummary") or {}).get("total") or {}
    return OrderInput(
        external_id=str(order["orderId"]),
        status=order_status(order),
        total=Decimal(str(total["value"])) if "value" in total else None,
        currency=str(total.get("currency", "")),
        ordered_at=parse_datetime(str(order.get("creationDate", ""))),
        buyer=str((order.get("buyer") or {}).get("username", "")),
        data=order,
        lines=tuple(
            LineData(
                line_id=str(line.get("lineItemId", index)),
                quantity=int(line.get("quantity", 1)),
                sku=str(line.get("sku") or ""),
                external_listing_id=str(line.get("legacyItemId") or ""),
                title=str(line.get("title") or ""),
            )
            for index, line in enumerate(order.get("lineItems") or [])
        ),
    )
