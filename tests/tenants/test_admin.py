"""The public host's operator admin: tenants with their job counts by status (the current page
only, counted in each tenant's schema), and the bounded job search across tenants."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from marketplace.services.listings import listing_record
from marketplace.states import JobStatus, ListingStatus
from tenants import admin as tenants_admin
from tenants.context import tenant_context
from tests.conftest import tenant_host
from tests.factories.marketplace import ProductFactory, make_job, make_job_in
from tests.factories.tenants import MembershipFactory, TenantFactory, UserFactory
from tests.operators import PUBLIC_HOST, host_client, platform_operator

S = JobStatus
TENANTS_URL = "/admin/tenants/tenant/"
SEARCH_URL = "/admin/tenants/tenant/jobs/"


@pytest.fixture
def operator(tenant):
    """A platform operator by permission (tenants.operate_platform), not a superuser."""
    return platform_operator()


@pytest.fixture
def client(operator):
    return host_client(host=PUBLIC_HOST, user=operator)


def _rows(response) -> dict[str, dict[str, int] | None]:
    return {tenant.schema_name: tenant.job_counts for tenant in response.context["cl"].result_list}


def _found(response) -> list[tuple[str, int, str | None]]:
    return [(tenant.schema_name, job.pk, url) for tenant, job, url in response.context["found"]]


def test_tenant_list_counts_each_tenants_jobs_by_status(tenant, other_tenant, client):
    # given two pending jobs and a failed one in A, a completed one in B
    make_job_in(S.PENDING), make_job_in(S.PENDING), make_job_in(S.FAILED)
    with tenant_context(other_tenant.schema_name):
        make_job_in(S.COMPLETED)

    # when the operator lists the test tenants on the public host
    response = client.get(TENANTS_URL, {"q": "test_shop"})

    # then each row counts its own tenant's jobs, linking to that tenant's job admin by status
    assert response.status_code == 200
    assert _rows(response) == {
        "test_shop_a": {"pending": 2, "failed": 1},
        "test_shop_b": {"completed": 1},
    }
    html = response.content.decode()
    jobs_a = "http://shop-a.test.localhost/admin/marketplace/marketplacejob/"
    assert (
        f'<a href="{jobs_a}?status__exact=pending">pending 2</a>, '
        f'<a href="{jobs_a}?status__exact=failed">failed 1</a>'
    ) in html
    assert (
        '<a href="http://shop-b.test.localhost/admin/marketplace/marketplacejob/'
        '?status__exact=completed">completed 1</a>'
    ) in html


def test_tenant_list_marks_a_tenant_without_schema(client):
    # given a tenant row whose schema was never created
    TenantFactory(schema_name="test_no_schema_admin")

    # when the operator lists it
    response = client.get(TENANTS_URL, {"q": "test_no_schema_admin"})

    # then its row says so instead of failing the page
    assert response.status_code == 200
    assert _rows(response) == {"test_no_schema_admin": None}
    assert "schema missing" in response.content.decode()


def test_tenant_list_counts_only_the_current_page(tenant, client, monkeypatch):
    # given pages of one tenant
    monkeypatch.setattr(tenants_admin.TenantAdmin, "list_per_page", 1)

    # when the operator lists the test tenants
    with CaptureQueriesContext(connection) as queries:
        response = client.get(TENANTS_URL, {"q": "test_shop"})

    # then only the first tenant's schema was counted
    assert _rows(response) == {"test_shop_a": {}}
    assert len([q for q in queries if "marketplace_marketplacejob" in q["sql"]]) == 1


def test_tenant_list_queries_grow_by_a_constant_per_tenant(tenant, client):
    # given the queries that list one tenant, then two
    with CaptureQueriesContext(connection) as one:
        client.get(TENANTS_URL, {"q": "test_shop_a"})
    with CaptureQueriesContext(connection) as two:
        response = client.get(TENANTS_URL, {"q": "test_shop"})

    # then the second tenant cost the same few queries (look-up, schema check, counts; the
    # search_path rides with the statements) whatever its number of jobs
    assert len(response.context["cl"].result_list) == 2
    assert len(two) - len(one) == 3


def test_tenant_admin_is_not_served_on_a_tenant_host(tenant, operator):
    # given a superuser on a tenant's host
    client = host_client(host=tenant_host(tenant), user=operator)

    # when they open the tenants list and the job search there
    listing = client.get(TENANTS_URL)
    search = client.get(SEARCH_URL, {"q": "1"})

    # then both are forbidden: tenants are administered on the public host only
    assert (listing.status_code, search.status_code) == (403, 403)


def test_tenants_are_not_added_or_deleted_in_the_admin(tenant, client):
    # when the operator opens the tenants list
    response = client.get(TENANTS_URL)

    # then neither adding (provisioning) nor bulk deleting (dropping schemas) is offered
    assert response.context["has_add_permission"] is False
    assert response.context["action_form"] is None  # delete_selected was the only action


def test_job_search_finds_a_sku_in_every_tenant(tenant, other_tenant, client):
    # given a product with the same SKU in A and B, each with a job
    job_a = make_job(product_id=ProductFactory(sku="SHARED-7").pk)
    make_job()
    with tenant_context(other_tenant.schema_name):
        job_b = make_job(product_id=ProductFactory(sku="SHARED-7").pk)

    # when the operator searches the SKU across the test tenants
    response = client.get(SEARCH_URL, {"q": "SHARED-7", "tenant": "test_shop"})

    # then both jobs are found, each linking to its tenant's host
    assert response.status_code == 200
    assert _found(response) == [
        (
            "test_shop_a",
            job_a.pk,
            f"http://shop-a.test.localhost/admin/marketplace/marketplacejob/{job_a.pk}/change/",
        ),
        (
            "test_shop_b",
            job_b.pk,
            f"http://shop-b.test.localhost/admin/marketplace/marketplacejob/{job_b.pk}/change/",
        ),
    ]


@pytest.mark.parametrize("kind", ["id", "external id"])
def test_job_search_finds_a_job_by_id_or_external_listing_id(tenant, other_tenant, client, kind):
    # given a job in B whose product is listed on Etsy
    with tenant_context(other_tenant.schema_name):
        product = ProductFactory()
        listing_record(
            product=product,
            marketplace="etsy",
            status=ListingStatus.ACTIVE,
            external_id="1588771122",
        )
        job = make_job(marketplace="etsy", product_id=product.pk)
    term = {"id": str(job.pk), "external id": "1588771122"}[kind]

    # when the operator searches it in B
    response = client.get(SEARCH_URL, {"q": term, "tenant": "shop-b.test"})

    # then that job is found
    assert [(schema, pk) for schema, pk, _ in _found(response)] == [("test_shop_b", job.pk)]


def test_job_search_is_capped_per_page_of_tenants(tenant, other_tenant, client, monkeypatch):
    # given a SKU in both tenants, and one tenant searched per page
    monkeypatch.setattr(tenants_admin, "TENANTS_PER_SEARCH", 1)
    make_job(product_id=ProductFactory(sku="PAGED-1").pk)
    with tenant_context(other_tenant.schema_name):
        make_job(product_id=ProductFactory(sku="PAGED-1").pk)

    # when the operator searches, then asks for the next tenants
    first = client.get(SEARCH_URL, {"q": "PAGED-1", "tenant": "test_shop"})
    second = client.get(SEARCH_URL, {"q": "PAGED-1", "tenant": "test_shop", "page": "2"})

    # then each page searched one tenant, and the first links to the next
    assert [schema for schema, _, _ in _found(first)] == ["test_shop_a"]
    assert [schema for schema, _, _ in _found(second)] == ["test_shop_b"]
    assert "Searched tenants 1&ndash;1 of 2." in first.content.decode()
    assert '?q=PAGED-1&amp;tenant=test_shop&amp;page=2">next tenants</a>' in (
        first.content.decode()
    )


def test_job_search_skips_a_tenant_without_schema(client):
    # given a tenant row whose schema was never created
    TenantFactory(schema_name="test_no_schema_search")

    # when the operator searches it
    response = client.get(SEARCH_URL, {"q": "ANY-SKU", "tenant": "test_no_schema_search"})

    # then it is named as not searched, and the page still answers
    assert response.status_code == 200
    assert [t.schema_name for t in response.context["unavailable"]] == ["test_no_schema_search"]
    assert _found(response) == []


def test_job_search_without_a_term_searches_nothing(tenant, client):
    # given a job
    make_job()

    # when the operator opens the search page
    with CaptureQueriesContext(connection) as queries:
        response = client.get(SEARCH_URL)

    # then no tenant schema was queried
    assert response.status_code == 200
    assert response.context["found"] == []
    assert not [q for q in queries if "marketplace_" in q["sql"]]


def test_non_staff_user_gets_no_operator_pages(tenant, member):
    # given a tenant member who is not staff, on the public host
    client = host_client(host=PUBLIC_HOST, user=member)

    # when they open the tenants list and the job search
    listing = client.get(TENANTS_URL)
    search = client.get(SEARCH_URL, {"q": "1"})

    # then both send them to the login page
    assert (listing.status_code, search.status_code) == (302, 302)
    assert listing["Location"] == f"/admin/login/?next={TENANTS_URL}"


def test_tenant_schema_name_cannot_be_edited(tenant, client):
    # when the operator opens a tenant
    response = client.get(f"{TENANTS_URL}{tenant.pk}/change/")

    # then its schema name is shown read-only (renaming it would orphan the schema)
    assert response.status_code == 200
    assert "schema_name" not in response.context["adminform"].form.fields
    assert "test_shop_a" in response.content.decode()


def test_staff_without_the_operator_permission_gets_no_public_admin(tenant):
    # given a staff user who is not a platform operator, and a shop's own staff member
    staff = UserFactory(is_staff=True)
    shop_staff = UserFactory(is_staff=True)
    MembershipFactory(user=shop_staff, tenant=tenant, role="staff")

    for user in (staff, shop_staff):
        client = host_client(host=PUBLIC_HOST, user=user)
        # when they open the admin index, the tenants list and the job search
        index = client.get("/admin/")
        listing = client.get(TENANTS_URL)
        search = client.get(SEARCH_URL, {"q": "1"})

        # then the index offers nothing and both pages are refused
        assert index.context["app_list"] == []
        assert (listing.status_code, search.status_code) == (403, 403)


def test_a_group_can_carry_the_operator_permission(tenant, other_tenant):
    # given a staff user in a group holding tenants.operate_platform
    from django.contrib.auth.models import Group, Permission

    group = Group.objects.create(name="Platform operators")
    group.permissions.add(
        Permission.objects.get(content_type__app_label="tenants", codename="operate_platform")
    )
    user = UserFactory(is_staff=True)
    user.groups.add(group)

    # when they search jobs across tenants / then they are served
    response = host_client(host=PUBLIC_HOST, user=user).get(SEARCH_URL, {"q": "1"})
    assert response.status_code == 200
