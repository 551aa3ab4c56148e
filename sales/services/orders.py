"""Orders with lines: record what the marketplaces sold, take stock exactly once per line.

Called by the sync_orders handlers inside their job's completion transaction. Every line is
inserted with `ON CONFLICT DO NOTHING RETURNING`, and stock moves only for the lines that insert
returned: a re-synced order, or two sync jobs racing on the same order, change nothing twice.
"""

import logging
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, cast

from django.db import connection, transaction
from django.utils import timezone

from marketplace.models import Listing, Order, Product
from marketplace.states import ListingStatus
from sales.models import OrderLine, OversellAlert, Sale
from sales.services.fanout import sale_fan_out
from sales.services.imports import MARKER
from sales.services.live import live_sales_changed
from sales.states import RESTOCKING_ORDER_STATUSES

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class LineData:
    line_id: str
    quantity: int
    sku: str = ""
    external_listing_id: str = ""
    title: str = ""


@dataclass(frozen=True, slots=True)
class OrderInput:
    external_id: str
    status: str
    total: Decimal | None
    currency: str
    ordered_at: datetime | None
    buyer: str
    data: dict[str, Any]
    lines: tuple[LineData, ...] = field(default=())

    @property
    def restocks(self) -> bool:
        """A cancelled or refunded order gives its stock back."""
        return self.status.lower() in RESTOCKING_ORDER_STATUSES


@dataclass(frozen=True, slots=True)
class OrdersRecorded:
    orders: int
    new_lines: int
    sales: int
    restocked: int
    oversells: int


def orders_record(*, marketplace: str, orders: list[OrderInput]) -> OrdersRecorded:
    """Upsert orders and their lines; new lines take stock, restocking orders give it back."""
    if not orders:
        return OrdersRecorded(0, 0, 0, 0, 0)
    with transaction.atomic():
        order_ids = _orders_upsert(marketplace=marketplace, orders=orders)
        new_lines = _lines_insert(order_ids=order_ids, orders=orders)
        _lines_link(marketplace=marketplace, lines=new_lines)
        restocking = {order_ids[o.external_id] for o in orders if o.restocks}
        sales, oversells = _stock_take(
            marketplace=marketplace,
            lines=[line for line in new_lines if line.order_id not in restocking],
        )
        restocked = _stock_restore(order_ids=restocking)
    if sales or restocked or oversells:
        live_sales_changed(sales=len(sales), oversells=oversells, restocked=restocked)
    return OrdersRecorded(len(orders), len(new_lines), len(sales), restocked, oversells)


def _orders_upsert(*, marketplace: str, orders: list[OrderInput]) -> dict[str, int]:
    rows = [
        Order(
            marketplace=marketplace,
            external_id=order.external_id,
            status=order.status,
            total=order.total,
            currency=order.currency,
            ordered_at=order.ordered_at,
            buyer=order.buyer,
            data=order.data,
        )
        for order in orders
    ]
    saved = Order.objects.bulk_create(
        rows,
        batch_size=500,
        update_conflicts=True,
        unique_fields=["marketplace", "external_id"],
        update_fields=["status", "total", "currency", "ordered_at", "buyer", "data", "updated_at"],
    )
    return {order.external_id: order.pk for order in saved}


def _lines_insert(*, order_ids: dict[str, int], orders: list[OrderInput]) -> list[OrderLine]:
    """Insert the lines never seen before and return exactly those (one statement)."""
    values = [(order_ids[order.external_id], line) for order in orders for line in order.lines]
    if not values:
        return []
    table = OrderLine._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {table}
                (order_id, line_id, sku, external_listing_id, title, quantity, created_at)
            SELECT * FROM unnest(
                %s::bigint[], %s::varchar[], %s::varchar[], %s::varchar[], %s::varchar[],
                %s::integer[], %s::timestamptz[])
            ON CONFLICT (order_id, line_id) DO NOTHING
            RETURNING id
            """,
            [
                [order_id for order_id, _ in values],
                [line.line_id[:64] for _, line in values],
                [line.sku[:64] for _, line in values],
                [line.external_listing_id[:64] for _, line in values],
                [line.title[:300] for _, line in values],
                [max(int(line.quantity), 0) for _, line in values],
                [timezone.now()] * len(values),
            ],
        )
        new_ids = [row[0] for row in cursor.fetchall()]
    return list(OrderLine.objects.filter(pk__in=new_ids).order_by("pk"))


def _lines_link(*, marketplace: str, lines: list[OrderLine]) -> None:
    """Find each line's product: by SKU, by the marketplace's listing id, or by the marker."""
    if not lines:
        return
    skus = {line.sku for line in lines if line.sku}
    markers = {m.group(1) for line in lines if (m := MARKER.search(line.title))}
    products = {p.sku: p.pk for p in Product.objects.filter(sku__in=skus | markers)}
    listed = {
        listing.external_id: (listing.product_id, listing.pk)
        for listing in Listing.objects.filter(
            marketplace=marketplace,
            external_id__in={line.external_listing_id for line in lines} - {""},
        )
    }
    for line in lines:
        marker = MARKER.search(line.title)
        by_listing = listed.get(line.external_listing_id) if line.external_listing_id else None
        line.product_id = (
            products.get(line.sku)
            or (by_listing[0] if by_listing else None)
            or (products.get(marker.group(1)) if marker else None)
        )
    own = {
        listing.product_id: listing.pk
        for listing in Listing.objects.filter(
            marketplace=marketplace,
            product_id__in={line.product_id for line in lines if line.product_id},
        )
    }
    for line in lines:
        line.listing_id = own.get(line.product_id) if line.product_id else None
    OrderLine.objects.bulk_update(lines, ["product", "listing"])


def _stock_take(*, marketplace: str, lines: list[OrderLine]) -> tuple[list[Sale], int]:
    """Lower each product's quantity by its new lines, once; record the sale or the oversell.

    Products are locked in id order, the one lock order of this module, so two sync jobs of
    two marketplaces selling the same item serialise instead of deadlocking.
    """
    linked = [line for line in lines if line.product_id]
    if not linked:
        return [], 0
    products = {
        product.pk: product
        for product in Product.objects.select_for_update()
        .filter(pk__in={line.product_id for line in linked})
        .order_by("pk")
    }
    now = timezone.now()
    sales: list[Sale] = []
    oversells = 0
    for line in linked:
        product = products[cast(int, line.product_id)]
        before = product.quantity
        if before < line.quantity:
            oversells += 1
            _oversell_record(product=product, line=line)
        product.quantity = max(before - line.quantity, 0)
        product.updated_at = now
        line.stock_taken_at = now
        if before > 0:
            sales.append(
                Sale(
                    line=line,
                    product=product,
                    marketplace=marketplace,
                    quantity=min(line.quantity, before),
                    quantity_after=product.quantity,
                    detected_at=now,
                )
            )
    Product.objects.bulk_update(list(products.values()), ["quantity", "updated_at"])
    OrderLine.objects.bulk_update(linked, ["stock_taken_at"])
    Sale.objects.bulk_create(sales)
    sold_out = [p.pk for p in products.values() if p.quantity == 0]
    Listing.objects.filter(
        product_id__in=sold_out, marketplace=marketplace, status=ListingStatus.ACTIVE
    ).update(status=ListingStatus.ENDED, updated_at=now)
    for sale in sales:
        sale_fan_out(sale=sale)
    logger.info(
        "sales.recorded",
        extra={"marketplace": marketplace, "sales": len(sales), "oversells": oversells},
    )
    return sales, oversells


def _oversell_record(*, product: Product, line: OrderLine) -> None:
    earlier = (
        OrderLine.objects.filter(product=product, stock_taken_at__isnull=False)
        .exclude(pk=line.pk)
        .order_by("-stock_taken_at", "-pk")
        .first()
    )
    OversellAlert.objects.create(product=product, line=line, earlier_line=earlier)
    logger.warning(
        "sales.oversold",
        extra={
            "product": product.pk,
            "line": line.pk,
            "earlier_line": getattr(earlier, "pk", None),
        },
    )


def _stock_restore(*, order_ids: set[int]) -> int:
    """Give back the stock of a cancelled or refunded order's lines, once per line."""
    if not order_ids:
        return 0
    lines = list(
        OrderLine.objects.select_for_update()
        .filter(
            order_id__in=order_ids,
            stock_taken_at__isnull=False,
            stock_restored_at__isnull=True,
            product__isnull=False,
        )
        .order_by("product_id", "pk")
    )
    if not lines:
        return 0
    products = {
        p.pk: p
        for p in Product.objects.select_for_update()
        .filter(pk__in={line.product_id for line in lines})
        .order_by("pk")
    }
    now = timezone.now()
    for line in lines:
        product = products[cast(int, line.product_id)]
        product.quantity += line.quantity
        product.updated_at = now
        line.stock_restored_at = now
    Product.objects.bulk_update(list(products.values()), ["quantity", "updated_at"])
    OrderLine.objects.bulk_update(lines, ["stock_restored_at"])
    return len(lines)
