"""The shop's mappings as an in-memory table: loaded in two queries, then looked up without
touching the database (a 10,000-product readiness check, a job's payloads)."""

from dataclasses import dataclass, field
from decimal import Decimal
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


@dataclass(frozen=True, slots=True)
class ProductFacts:
    """What readiness reads of a product: built from one row of a values query, so checking
    10,000 products does not build 10,000 model instances (most of a check's cost)."""

    pk: int
    sku: str
    price: Decimal
    currency: str
    condition: str
    brand: str
    size: str
    colours: list[str]
    material: str
    attributes: dict[str, Any]
    category_id: int | None

    FIELDS = (
        "pk",
        "sku",
        "price",
        "currency",
        "condition",
        "brand",
        "size",
        "colours",
        "material",
        "attributes",
        "category_id",
    )

    @property
    def category(self) -> None:
        return None  # the category comes from the mappings' table (Mappings.category_of)


# What the rendering reads of a product: a model instance, or a readiness row.
ProductLike = Product | ProductFacts


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
            CategoryMapping.objects.all(), ValueMapping.objects.all(), Category.objects.all()
        )

    @classmethod
    def of(cls, categories: Any, values: Any, category_rows: Any = None) -> "Mappings":
        """From mapping rows; the categories default to those the mappings name."""
        categories = list(categories)
        rows = (
            {c.pk: c for c in category_rows}
            if category_rows is not None
            else {m.category_id: m.category for m in categories}
        )
        return cls(
            categories={(m.category_id, m.marketplace): m for m in categories},
            values={(v.kind, _key(v.value), v.marketplace): v for v in values},
            category_rows=rows,
        )

    def category_of(self, product: ProductLike) -> Category | None:
        """The product's canonical category (from the table when it has mappings)."""
        if product.category_id is None:
            return None
        found = self.category_rows.get(product.category_id)
        return found if found is not None else product.category

    def category(self, product: ProductLike, marketplace: str) -> CategoryMapping | None:
        if product.category_id is None:
            return None
        return self.categories.get((product.category_id, marketplace))

    def value(self, kind: str, value: str, marketplace: str) -> ValueMapping | None:
        if not value:
            return None
        return self.values.get((kind, _key(value), marketplace))

    def condition(self, product: ProductLike, marketplace: str) -> ValueMapping | None:
        return self.value(AttributeKind.CONDITION, product.condition, marketplace)

    def colours(self, product: ProductLike, marketplace: str) -> list[ValueMapping]:
        found = (self.value(AttributeKind.COLOUR, c, marketplace) for c in product.colours)
        return [mapping for mapping in found if mapping is not None]

    def unmapped_colours(self, product: ProductLike, marketplace: str) -> list[str]:
        return [
            colour
            for colour in product.colours
            if self.value(AttributeKind.COLOUR, colour, marketplace) is None
        ]
