"""Etsy receipts as Relist orders with lines.
https://developers.etsy.com/documentation/reference#operation/getShopReceipts"""

from datetime import UTC, datetime
from typing import Any

from marketplace.handlers.etsy.payloads import money
from sales.services.orders import LineData, OrderInput


def order_input(receipt: dict[str, Any]) -> OrderInput:
    total = receipt.get("grandtotal") or receipt.get("total_price")
    created = receipt.get("created_timestamp") or receipt.get("create_timestamp")
    return OrderInput(
        external_id=str(receipt["receipt_id"]),
        status=str(receipt.get("status", "")),
        total=money(total),
        currency=str((total or {}).get("currency_code", "")),
        ordered_at=datetime.fromtimestamp(int(created), tz=UTC) if created else None,
        buyer=str(receipt.get("name") or receipt.get("buyer_user_id") or ""),
        data=receipt,
        lines=tuple(
            LineData(
                line_id=str(line.get("transaction_id", index)),
                quantity=int(line.get("quantity", 1)),
                sku=str(line.get("sku") or ""),
                external_listing_id=str(line.get("listing_id") or ""),
                title=str(line.get("title") or ""),
            )
            for index, line in enumerate(receipt.get("transactions") or [])
        ),
    )
