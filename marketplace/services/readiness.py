"""Readiness: can these products be listed on these marketplaces now, and if not, exactly what
is missing. Batch creation asks this first (DESIGN §3: no job should fail at run time for a
reason knowable up front), and the API exposes it (POST /api/readiness/).

The product checks are the marketplaces' own rendering modules' (`payloads.missing`), so what
readiness reports is exactly what the payload would lack; the connection checks are the
account's: connected, and its listing setup chosen (eBay business policies and inventory
location, Etsy shipping and processing profiles), or for Vinted an extension token issued.
Cost: five queries (connections, products with whether they have an image, three mapping
tables), plus one for Vinted's extension tokens, whatever the number of products.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field

from django.db import connection as db_connection
from django.db.models import Exists, OuterRef
from django.db.models.expressions import RawSQL

from core.errors import ValidationFailed
from marketplace.handlers.ebay import payloads as ebay_payloads
from marketplace.handlers.etsy import payloads as etsy_payloads
from marketplace.handlers.vinted import payloads as vinted_payloads
from marketplace.models import MarketplaceConnection, Product, ProductImage
from marketplace.models.connections import ConnectionStatus
from marketplace.rendering.mappings import Mappings, ProductFacts
from marketplace.rendering.text import Reason
from marketplace.services.account_setup import connection_setup_missing
from marketplace.states import ActionCode, Marketplace
from tenants.selectors import extension_token_list

# The actions that render the product on the marketplace; the others need only the account.
PRODUCT_ACTIONS = frozenset({ActionCode.PUBLISH, ActionCode.UPDATE})
_RENDERERS = {
    Marketplace.EBAY: ebay_payloads,
    Marketplace.ETSY: etsy_payloads,
    Marketplace.VINTED: vinted_payloads,
}
_SETUP_LABELS = {
    "fulfillment_policy_id": "a fulfillment (shipping) business policy",
    "payment_policy_id": "a payment business policy",
    "return_policy_id": "a return business policy",
    "merchant_location_key": "an inventory location (merchantLocationKey)",
    "shipping_profile_id": "a shipping profile",
    "readiness_state_id": "a processing profile (readiness_state_id)",
}


@dataclass(frozen=True, slots=True)
class Readiness:
    product_id: int
    marketplace: str
    reasons: list[Reason] = field(default_factory=list)

    @property
    def ready(self) -> bool:
        return not self.reasons

    def as_dict(self) -> dict[str, object]:
        return {
            "product_id": self.product_id,
            "marketplace": self.marketplace,
            "ready": self.ready,
            "reasons": [reason.as_dict() for reason in self.reasons],
        }


def _vinted_reasons() -> list[Reason]:
    tenant = getattr(db_connection, "tenant", None)
    active = tenant is not None and (
        extension_token_list(tenant=tenant).filter(revoked_at__isnull=True).exists()
    )
    if not active:
        return [
            Reason(
                "not_connected",
                "No Vinted browser extension is connected: issue an extension token and "
                "install the extension.",
                "connection",
            )
        ]
    return []  # an extension offline now is not a reason: the job waits for it (DESIGN §3)


def _connection_reasons(marketplace: str, row: MarketplaceConnection | None) -> list[Reason]:
    if marketplace == Marketplace.VINTED:
        return _vinted_reasons()
    label = Marketplace(marketplace).label
    if row is None or row.status == ConnectionStatus.DISCONNECTED:
        return [
            Reason("not_connected", f"No {label} account is connected to this shop.", "connection")
        ]
    if row.status == ConnectionStatus.NEEDS_REAUTH:
        return [
            Reason(
                "needs_reauth",
                f"The {label} connection needs re-authorisation: {row.status_reason}",
                "connection",
            )
        ]
    return [
        Reason(
            "setup_missing",
            f"The {label} connection has no {_SETUP_LABELS[key]} chosen.",
            key,
        )
        for key in connection_setup_missing(row)
    ]


def _ids(ids: list[int]) -> RawSQL:
    """The ids as one array parameter, where `IN (…)` would send 10,000 of them."""
    return RawSQL("SELECT unnest(%s::bigint[])", [ids])


def readiness_check(
    *, product_ids: Sequence[int], marketplaces: Sequence[str], action: str = ActionCode.PUBLISH
) -> list[Readiness]:
    """One Readiness per product × marketplace, in the given orders."""
    marketplaces = list(dict.fromkeys(marketplaces))
    rows = {
        c.marketplace: c for c in MarketplaceConnection.objects.filter(marketplace__in=marketplaces)
    }
    per_marketplace = {m: _connection_reasons(m, rows.get(m)) for m in marketplaces}
    ids = list(dict.fromkeys(product_ids))
    if action not in PRODUCT_ACTIONS:
        return [Readiness(pid, m, list(per_marketplace[m])) for pid in ids for m in marketplaces]
    # Only what the checks read, as plain rows: model instances would cost more than every
    # check together. The renderers only ask whether a product has an image: one index probe
    # per product, where counting joined the shop's whole image table and grouped wide rows.
    products: dict[int, ProductFacts] = {}
    with_images: set[int] = set()
    for *row, has_images in (
        Product.objects.filter(pk__in=_ids(ids))
        .annotate(has_images=Exists(ProductImage.objects.filter(product=OuterRef("pk"))))
        .order_by()
        .values_list(*ProductFacts.FIELDS, "has_images")
    ):
        products[row[0]] = ProductFacts(*row)
        if has_images:
            with_images.add(row[0])
    mappings = Mappings.load()
    results = []
    for pid in ids:
        product = products.get(pid)
        for marketplace in marketplaces:
            if product is None:
                reasons = [Reason("no_product", f"Product {pid} does not exist.", "product_id")]
            else:
                renderer = _RENDERERS[Marketplace(marketplace)]
                reasons = [
                    *per_marketplace[marketplace],
                    *renderer.missing(product, mappings, has_images=pid in with_images),
                ]
            results.append(Readiness(pid, marketplace, reasons))
    return results


def readiness_require(*, product_id: int, marketplace: str, action: str) -> None:
    """Refuse one job that would fail for a reason knowable now (the job API's check; batches
    choose between refusing and skipping, batches.services)."""
    if action not in PRODUCT_ACTIONS:
        return  # account-only actions wait for the account (DESIGN §3), they do not fail
    [result] = readiness_check(product_ids=[product_id], marketplaces=[marketplace], action=action)
    if any(reason.code == "no_product" for reason in result.reasons):
        return  # job_create says so, in its own words
    if not result.ready:
        raise ValidationFailed(
            f"Product {product_id} is not ready for {marketplace}.",
            details={"not_ready_count": 1, "not_ready": [result.as_dict()]},
        )
