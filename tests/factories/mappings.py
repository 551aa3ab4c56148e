"""The reference mappings in memory (no database): for payload tests of pure functions."""

from decimal import Decimal
from typing import Any

from marketplace import reference_data
from marketplace.models import Category, CategoryMapping, Product, ValueMapping
from marketplace.rendering.mappings import Mappings
from tests.factories.marketplace import ProductFactory

CATEGORIES: dict[str, Category] = {
    code: Category(pk=n, code=code, name=name, group=group)
    for n, (code, name, group, _) in enumerate(reference_data.CATEGORIES, start=1)
}


def reference_mappings() -> Mappings:
    categories = [
        CategoryMapping(category=CATEGORIES[code], marketplace=marketplace, **fields)
        for code, _, _, per_marketplace in reference_data.CATEGORIES
        for marketplace, fields in per_marketplace.items()
    ]
    values = [
        ValueMapping(
            kind=kind, value=value, marketplace=marketplace, external_id=eid, external_name=name
        )
        for kind, by_value in reference_data.VALUES.items()
        for value, by_marketplace in by_value.items()
        for marketplace, (eid, name) in by_marketplace.items()
    ]
    return Mappings.of(categories, values)


def canonical_product(**kwargs: Any) -> Product:
    """An unsaved canonical product: a men's jacket the reference mappings cover everywhere."""
    defaults: dict[str, Any] = {
        "sku": "SKU-1",
        "title": "Denim jacket",
        "description": "Lightly worn.",
        "price": Decimal("25.00"),
        "currency": "EUR",
        "condition": "used_good",
        "brand": "Levi's",
        "size": "M",
        "colours": ["blue"],
        "material": "Cotton",
        "category": CATEGORIES["mens-coats-jackets"],
        "attributes": {},
    }
    return ProductFactory.build(**{**defaults, **kwargs})
