"""Reference data seeded into every shop: a small, real subset of the three marketplaces'
public taxonomies for clothing, shoes, bags and accessories (DESIGN §4; issue 12).

Sources, and how sure each id is:
- eBay (EBAY_US leaf categories, Browse the "Clothing, Shoes & Accessories" tree, 11450):
  https://developer.ebay.com/api-docs/commerce/taxonomy/resources/category_tree/methods/getCategorySubtree
  The ids are eBay US's; required aspects follow getItemAspectsForCategory
  (aspectConstraint.aspectRequired) as published for these leaves, trimmed to what a
  reseller's product carries. Conditions are the Inventory API's ConditionEnum values for
  apparel (https://developer.ebay.com/api-docs/sell/inventory/types/slr:ConditionEnum).
- Etsy (seller taxonomy, getSellerTaxonomyNodes): 1 Accessories and 1429 Shoes are named in
  Etsy's own docs; the other node ids and the "Primary color" property (200) value ids are as
  best known and illustrative: check them against
  https://developers.etsy.com/documentation/reference#operation/getSellerTaxonomyNodes
  before production.
- Vinted (catalog, status, colour, brand and size ids as its web upload form sends them): Vinted
  has no public API; the ids are as best known from the web app and are illustrative.

A shop edits its own copy (API: /api/categories/, /api/category-mappings/, /api/value-mappings/;
admin). Seeding is idempotent: it creates what is missing and never overwrites a shop's edits.
"""

from typing import Any

# code, name, group, {marketplace: mapping}
CATEGORIES: list[tuple[str, str, str, dict[str, dict[str, Any]]]] = [
    (
        "mens-coats-jackets",
        "Men's coats & jackets",
        "clothing",
        {
            "ebay": {
                "external_id": "57988",
                "external_name": "Men's Clothing > Coats, Jackets & Vests",
                "required_aspects": ["Brand", "Size", "Colour", "Department", "Type"],
                "properties": {"Department": ["Men"], "Type": ["Jacket"]},
            },
            "etsy": {"external_id": "449", "external_name": "Clothing > Men's Clothing > Coats"},
            "vinted": {"external_id": "1206", "external_name": "Men > Clothing > Outerwear"},
        },
    ),
    (
        "mens-jeans",
        "Men's jeans",
        "clothing",
        {
            "ebay": {
                "external_id": "11483",
                "external_name": "Men's Clothing > Jeans",
                "required_aspects": ["Brand", "Size", "Colour", "Department"],
                "properties": {"Department": ["Men"]},
            },
            "etsy": {"external_id": "456", "external_name": "Clothing > Men's Clothing > Jeans"},
            "vinted": {"external_id": "257", "external_name": "Men > Clothing > Jeans"},
        },
    ),
    (
        "mens-tshirts",
        "Men's T-shirts",
        "clothing",
        {
            "ebay": {
                "external_id": "15687",
                "external_name": "Men's Clothing > Shirts > T-Shirts",
                "required_aspects": ["Brand", "Size", "Colour", "Department"],
                "properties": {"Department": ["Men"]},
            },
            "etsy": {
                "external_id": "482",
                "external_name": "Clothing > Men's Clothing > Shirts & Tees > T-shirts",
            },
            "vinted": {"external_id": "77", "external_name": "Men > Clothing > Tops & T-shirts"},
        },
    ),
    (
        "womens-coats-jackets",
        "Women's coats & jackets",
        "clothing",
        {
            "ebay": {
                "external_id": "63862",
                "external_name": "Women's Clothing > Coats, Jackets & Vests",
                "required_aspects": ["Brand", "Size", "Colour", "Department", "Type"],
                "properties": {"Department": ["Women"], "Type": ["Jacket"]},
            },
            "etsy": {
                "external_id": "2012",
                "external_name": "Clothing > Women's Clothing > Jackets & Coats",
            },
            "vinted": {"external_id": "1037", "external_name": "Women > Clothing > Outerwear"},
        },
    ),
    (
        "womens-dresses",
        "Women's dresses",
        "clothing",
        {
            "ebay": {
                "external_id": "63861",
                "external_name": "Women's Clothing > Dresses",
                "required_aspects": ["Brand", "Size", "Colour", "Department"],
                "properties": {"Department": ["Women"]},
            },
            "etsy": {
                "external_id": "2078",
                "external_name": "Clothing > Women's Clothing > Dresses",
            },
            "vinted": {"external_id": "10", "external_name": "Women > Clothing > Dresses"},
        },
    ),
    (
        "mens-sneakers",
        "Men's sneakers",
        "shoes",
        {
            "ebay": {
                "external_id": "15709",
                "external_name": "Men's Shoes > Athletic Shoes",
                "required_aspects": ["Brand", "US Shoe Size", "Colour", "Department"],
                "properties": {"Department": ["Men"]},
            },
            "etsy": {"external_id": "1429", "external_name": "Shoes"},
            "vinted": {"external_id": "1242", "external_name": "Men > Shoes > Trainers"},
        },
    ),
    (
        "womens-boots",
        "Women's boots",
        "shoes",
        {
            "ebay": {
                "external_id": "53557",
                "external_name": "Women's Shoes > Boots",
                "required_aspects": ["Brand", "US Shoe Size", "Colour", "Department"],
                "properties": {"Department": ["Women"]},
            },
            "etsy": {"external_id": "1429", "external_name": "Shoes"},
            "vinted": {"external_id": "1049", "external_name": "Women > Shoes > Boots"},
        },
    ),
    (
        "womens-handbags",
        "Handbags",
        "bags",
        {
            "ebay": {
                "external_id": "169291",
                "external_name": "Women's Bags & Handbags",
                "required_aspects": ["Brand", "Colour", "Department"],
                "properties": {"Department": ["Women"]},
            },
            "etsy": {"external_id": "132", "external_name": "Bags & Purses"},
            "vinted": {"external_id": "156", "external_name": "Women > Bags > Handbags"},
        },
    ),
    (
        "scarves",
        "Scarves & wraps",
        "accessories",
        {
            "ebay": {
                "external_id": "45238",
                "external_name": "Women's Accessories > Scarves & Wraps",
                "required_aspects": ["Brand", "Colour", "Department"],
                "properties": {"Department": ["Women"]},
            },
            "etsy": {"external_id": "1", "external_name": "Accessories"},
            "vinted": {"external_id": "1187", "external_name": "Women > Accessories"},
        },
    ),
    (
        "mens-belts",
        "Men's belts",
        "accessories",
        {
            "ebay": {
                "external_id": "2993",
                "external_name": "Men's Accessories > Belts",
                "required_aspects": ["Brand", "Size", "Colour", "Department"],
                "properties": {"Department": ["Men"]},
            },
            "etsy": {"external_id": "1", "external_name": "Accessories"},
            "vinted": {"external_id": "96", "external_name": "Men > Accessories > Belts"},
        },
    ),
]

# kind → value → marketplace → (external_id, external_name)
VALUES: dict[str, dict[str, dict[str, tuple[str, str]]]] = {
    "condition": {
        # Etsy has no item condition (who_made / when_made say it): no Etsy row.
        "new_with_tags": {"ebay": ("NEW", "New with tags"), "vinted": ("6", "New with tags")},
        "new_without_tags": {
            "ebay": ("NEW_OTHER", "New without tags"),
            "vinted": ("1", "New without tags"),
        },
        "used_excellent": {
            "ebay": ("PRE_OWNED_EXCELLENT", "Pre-owned - Excellent"),
            "vinted": ("2", "Very good"),
        },
        "used_very_good": {
            "ebay": ("USED_EXCELLENT", "Pre-owned - Good"),
            "vinted": ("2", "Very good"),
        },
        "used_good": {"ebay": ("USED_EXCELLENT", "Pre-owned - Good"), "vinted": ("3", "Good")},
        "used_acceptable": {
            "ebay": ("PRE_OWNED_FAIR", "Pre-owned - Fair"),
            "vinted": ("4", "Satisfactory"),
        },
    },
    "colour": {
        # eBay takes the aspect value (text); Etsy a "Primary color" (property 200) value id;
        # Vinted a color id.
        "black": {"ebay": ("", "Black"), "etsy": ("1", "Black"), "vinted": ("1", "Black")},
        "brown": {"ebay": ("", "Brown"), "etsy": ("3", "Brown"), "vinted": ("2", "Brown")},
        "grey": {"ebay": ("", "Gray"), "etsy": ("5", "Gray"), "vinted": ("3", "Grey")},
        "beige": {"ebay": ("", "Beige"), "etsy": ("1213", "Beige"), "vinted": ("4", "Beige")},
        "pink": {"ebay": ("", "Pink"), "etsy": ("7", "Pink"), "vinted": ("5", "Pink")},
        "red": {"ebay": ("", "Red"), "etsy": ("9", "Red"), "vinted": ("7", "Red")},
        "blue": {"ebay": ("", "Blue"), "etsy": ("2", "Blue"), "vinted": ("9", "Blue")},
        "green": {"ebay": ("", "Green"), "etsy": ("4", "Green"), "vinted": ("10", "Green")},
        "white": {"ebay": ("", "White"), "etsy": ("10", "White"), "vinted": ("12", "White")},
        "navy": {"ebay": ("", "Blue"), "etsy": ("2", "Blue"), "vinted": ("27", "Navy")},
    },
    "size": {
        # Letter sizes. Vinted's size ids depend on the catalog's size group; these are its
        # generic clothing sizes (illustrative).
        "XS": {"ebay": ("", "XS"), "vinted": ("206", "XS")},
        "S": {"ebay": ("", "S"), "vinted": ("207", "S")},
        "M": {"ebay": ("", "M"), "vinted": ("208", "M")},
        "L": {"ebay": ("", "L"), "vinted": ("209", "L")},
        "XL": {"ebay": ("", "XL"), "vinted": ("210", "XL")},
    },
    "brand": {
        # Vinted brand ids as its brand search answers (illustrative); eBay takes the name.
        "Levi's": {"ebay": ("", "Levi's"), "vinted": ("10", "Levi's")},
        "Nike": {"ebay": ("", "Nike"), "vinted": ("53", "Nike")},
        "Zara": {"ebay": ("", "Zara"), "vinted": ("12", "Zara")},
        "Burberry": {"ebay": ("", "Burberry"), "vinted": ("364", "Burberry")},
        "Dr. Martens": {"ebay": ("", "Dr. Martens"), "vinted": ("1205", "Dr. Martens")},
    },
}


def seed(*, category_model: Any, category_mapping_model: Any, value_mapping_model: Any) -> int:
    """Create the reference rows a shop lacks; returns how many were created. Takes the model
    classes so that the data migration (historical models) and the service share it."""
    created = 0
    for code, name, group, mappings in CATEGORIES:
        category, new = category_model.objects.get_or_create(
            code=code, defaults={"name": name, "group": group}
        )
        created += int(new)
        for marketplace, fields in mappings.items():
            _, new = category_mapping_model.objects.get_or_create(
                category=category, marketplace=marketplace, defaults=fields
            )
            created += int(new)
    for kind, values in VALUES.items():
        for value, per_marketplace in values.items():
            for marketplace, (external_id, external_name) in per_marketplace.items():
                _, new = value_mapping_model.objects.get_or_create(
                    kind=kind,
                    value=value,
                    marketplace=marketplace,
                    defaults={"external_id": external_id, "external_name": external_name},
                )
                created += int(new)
    return created
