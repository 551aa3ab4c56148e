"""The shop's mappings over HTTP (/api/categories/, /api/category-mappings/,
/api/value-mappings/) and in the admin: seeded at provisioning, editable, tenant-scoped."""

from marketplace.models import Category, CategoryMapping, ValueMapping
from tenants.context import tenant_context
from tests.conftest import tenant_host
from tests.factories.marketplace import ProductFactory, reference_category
from tests.factories.tenants import MembershipFactory, UserFactory
from tests.operators import host_client


def test_the_reference_categories_are_seeded_with_their_marketplace_ids(tenant, api_client):
    # when
    categories = api_client.get("/api/categories/").json()
    mappings = api_client.get(
        "/api/category-mappings/", {"category": "mens-coats-jackets", "marketplace": "ebay"}
    ).json()
    # then
    assert {c["group"] for c in categories} == {"clothing", "shoes", "bags", "accessories"}
    assert [(m["external_id"], m["required_aspects"]) for m in mappings] == [
        ("57988", ["Brand", "Size", "Colour", "Department", "Type"])
    ]


def test_a_shop_edits_its_own_mappings_only(tenant, other_tenant, api_client):
    # given the shop's Vinted mapping of navy
    navy = ValueMapping.objects.get(kind="colour", value="navy", marketplace="vinted")
    # when it changes it and adds a brand
    changed = api_client.patch(f"/api/value-mappings/{navy.pk}/", {"external_id": "9"})
    added = api_client.post(
        "/api/value-mappings/",
        {"kind": "brand", "value": "Acne Studios", "marketplace": "vinted", "external_id": "180"},
    )
    duplicate = api_client.post(
        "/api/value-mappings/",
        {"kind": "brand", "value": "Acne Studios", "marketplace": "vinted", "external_id": "1"},
    )
    # then its rows changed, the duplicate is refused, and the other shop's are untouched
    assert (changed.status_code, changed.json()["external_id"]) == (200, "9")
    assert added.status_code == 201
    assert duplicate.status_code == 400
    with tenant_context(other_tenant.schema_name):
        assert (
            ValueMapping.objects.get(kind="colour", value="navy", marketplace="vinted").external_id
            == "27"
        )
        assert not ValueMapping.objects.filter(value="Acne Studios").exists()


def test_a_new_category_gets_its_mappings(tenant, api_client):
    created = api_client.post(
        "/api/categories/", {"code": "womens-jeans", "name": "Women's jeans", "group": "clothing"}
    )
    mapped = api_client.post(
        "/api/category-mappings/",
        {
            "category": "womens-jeans",
            "marketplace": "ebay",
            "external_id": "11554",
            "required_aspects": ["Brand", "Size"],
            "properties": {"Department": ["Women"]},
        },
        format="json",
    )
    assert (created.status_code, mapped.status_code) == (201, 201)
    assert CategoryMapping.objects.get(category__code="womens-jeans").external_id == "11554"


def test_a_category_in_use_cannot_be_deleted(tenant, api_client):
    ProductFactory(category=reference_category("scarves"))
    response = api_client.delete("/api/categories/scarves/")
    assert (response.status_code, response.json()["error"]["code"]) == (409, "conflict")
    assert Category.objects.filter(code="scarves").exists()


def test_the_shops_staff_edit_mappings_in_its_admin(tenant):
    staff = UserFactory(is_staff=True)
    MembershipFactory(user=staff, tenant=tenant, role="staff")
    client = host_client(host=tenant_host(tenant), user=staff)
    navy = ValueMapping.objects.get(kind="colour", value="navy", marketplace="vinted")
    page = client.get("/admin/marketplace/category/")
    change = client.post(
        f"/admin/marketplace/valuemapping/{navy.pk}/change/",
        {
            "kind": "colour",
            "value": "navy",
            "marketplace": "vinted",
            "external_id": "26",
            "external_name": "Navy",
        },
    )
    assert (page.status_code, change.status_code) == (200, 302)
    navy.refresh_from_db()
    assert navy.external_id == "26"
