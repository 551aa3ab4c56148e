"""The shop's mappings as an in-memory table: loaded in two queries, then looked up without
touching the database (a 10,000-product readiness check, a job's payloads)."""

from dataclasses import dataclass, field
from typing import Any

from marketplace.models import AttributeKind, Category, CategoryMapping, Product, ValueMapping

# Keys of Product.attributes that override what the mappings give, per marketplace.
OVERRIDE_KEYS = {
    "ebay": ("ebay_category_id", "ebay_aspects", "ebay_condition"),
    "etsy": (
        "etsy_taxonomy_id",
        "etsy_tags",
        "etsy_who_made",
        "etsy_when_made",
        "etsy_materials",
    ),
    "vinted": (
        "vinted_catalog_id",
        "vinted_status_id",
        "vinted_brand_id",
        "vinted_size_id",
        "vinted_color_ids",
        "vinted_package_size_id",
    ),
}


def _key(value: str) -> str:
    return value.strip().casefold()


@dataclass(frozen=True, slots=True)
class Mappings:
    # (category id, marketplace) → mapping
    categories: dict[tuple[int, str], CategoryMapping] = field(default_factory=dict)
    # (kind, canonical value casefolded, marketplace) → mapping
    values: dict[tuple[str, str, str], ValueMapping] = field(default_factory=dict)
    # The canonical categories by id: a product's category without a query per product.
    category_rows: dict[int, Category] = field(default_factory=dict)

    @classmethod
    def load(cls) -> "Mappings":
        return cls.of(
            CategoryMapping.objects.select_related("category"), ValueMapping.objects.all()
        )

    @classmethod
    def of(cls, categories: Any, values: Any) -> "Mappings":
        categories = list(categories)
        return cls(
            categories={(m.category_id, m.marketplace): m for m in categories},
            values={(v.kind, _key(v.value), v.marketplace): v for v in values},
            category_rows={m.category_id: m.category for m in categories},
        )

    def category_of(self, product: Product) -> Category | None:
        """The product's canonical category (from the table when it has mappings)."""
        if product.category_id is None:
            return None
        found = self.category_rows.get(product.category_id)
        return found if found is not None else product.category

    def category(self, product: Product, marketplace: str) -> CategoryMapping | None:
        if product.category_id is None:
            return None
        return self.categories.get((product.category_id, marketplace))

    def value(self, kind: str, value: str, marketplace: str) -> ValueMapping | None:
        if not value:
            return None
        return self.values.get((kind, _key(value), marketplace))

    def condition(self, product: Product, marketplace: str) -> ValueMapping | None:
        return self.value(AttributeKind.CONDITION, product.condition, marketplace)

    def colours(self, product: Product, marketplace: str) -> list[ValueMapping]:
        found = (self.value(AttributeKind.COLOUR, c, marketplace) for c in product.colours)
        return [mapping for mapping in found if mapping is not None]

    def unmapped_colours(self, product: Product, marketplace: str) -> list[str]:
        return [
            colour
            for colour in product.colours
            if self.value(AttributeKind.COLOUR, colour, marketplace) is None
        ]
