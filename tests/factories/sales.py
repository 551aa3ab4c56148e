"""Factories for the sales domain: marketplace orders as the sync handlers hand them over."""

from decimal import Decimal
from itertools import count

from sales.services.orders import LineData, OrderInput

_ids = count(1)


def order_input(
    *lines: LineData, status: str = "paid", external_id: str | None = None
) -> OrderInput:
    return OrderInput(
        external_id=external_id or f"ORD-{next(_ids)}",
        status=status,
        total=Decimal("25.00"),
        currency="EUR",
        ordered_at=None,
        buyer="buyer",
        data={},
        lines=lines,
    )


def line(*, sku: str = "", quantity: int = 1, line_id: str = "1", **kwargs: str) -> LineData:
    return LineData(line_id=line_id, quantity=quantity, sku=sku, **kwargs)
