"""A request is served in a tenant only when its host resolves to the tenant AND the user is a
member of it (docs/architecture.md, Tenancy); otherwise a JSON error that reveals nothing, never a
500 page and never another tenant's (or the public schema's) data."""

import json

import pytest
from asgiref.sync import async_to_sync
from django.db import connection
from django.test import RequestFactory

from marketplace.models import JobEvent, MarketplaceJob
from tenants.context import tenant_context
from tenants.middleware import TenantResolutionMiddleware
from tenants.models import MembershipRole
from tests.conftest import tenant_host
from tests.factories.marketplace import make_job_in
from tests.factories.tenants import DomainFactory, MembershipFactory, UserFactory

NOT_FOUND = {"error": {"code": "not_found", "message": "Not found.", "details": {}}}


def test_member_sees_the_jobs_of_its_tenant(tenant, api_client):
    # given two jobs in the member's tenant
    first, second = make_job_in("pending"), make_job_in("running")

    # when the member lists jobs on the tenant's host
    response = api_client.get("/api/jobs/")

    # then both are listed, newest first
    assert response.status_code == 200
    assert [(job["id"], job["status"]) for job in response.json()["results"]] == [
        (second.pk, "running"),
        (first.pk, "pending"),
    ]


def test_member_token_on_another_tenants_host_is_not_found(
    tenant, other_tenant, member, make_client
):
    # given a job in each tenant, and A's member addressing B's host with A's token
    make_job_in("pending")
    with tenant_context(other_tenant.schema_name):
        make_job_in("pending")
    client = make_client(host=tenant_host(other_tenant), user=member)

    # when the member lists jobs there
    response = client.get("/api/jobs/")

    # then the answer is a bare 404 (not 403 with details) and carries no data
    assert response.status_code == 404
    assert response.json() == NOT_FOUND


def test_member_asking_another_tenants_job_id_is_not_found(tenant, other_tenant, api_client):
    # given a job that exists in B only (A has no job at all)
    with tenant_context(other_tenant.schema_name):
        job_b = make_job_in("pending")
    assert not MarketplaceJob.objects.filter(pk=job_b.pk).exists()

    # when A's member asks for that id on A's host, and tries to cancel it
    detail = api_client.get(f"/api/jobs/{job_b.pk}/")
    cancel = api_client.post(f"/api/jobs/{job_b.pk}/cancel/")

    # then both are 404 and B's job is untouched
    assert (detail.status_code, cancel.status_code) == (404, 404)
    assert detail.json() == NOT_FOUND
    assert cancel.json()["error"]["code"] == "not_found"
    with tenant_context(other_tenant.schema_name):
        assert MarketplaceJob.objects.get(pk=job_b.pk).status == "pending"
        assert JobEvent.objects.filter(job_id=job_b.pk).count() == 0


def test_authenticated_non_member_is_not_found(tenant, make_client):
    # given a job in A, and a user who belongs to no tenant
    job = make_job_in("pending")
    stranger = UserFactory()
    client = make_client(host=tenant_host(tenant), user=stranger)

    # when the stranger lists jobs and asks for the job
    listing = client.get("/api/jobs/")
    detail = client.get(f"/api/jobs/{job.pk}/")

    # then both are 404 without data
    assert (listing.status_code, detail.status_code) == (404, 404)
    assert listing.json() == NOT_FOUND
    assert detail.json() == NOT_FOUND


def test_unauthenticated_request_is_asked_to_authenticate(tenant, make_client):
    # given a job in A and a client without credentials
    make_job_in("pending")
    client = make_client(host=tenant_host(tenant))

    # when it lists jobs
    response = client.get("/api/jobs/")

    # then it gets 401 JSON telling it to authenticate, and no data
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Bearer"
    assert response.json() == {
        "error": {
            "code": "not_authenticated",
            "message": "Authentication credentials were not provided.",
            "details": {},
        }
    }


def test_bad_token_is_refused(tenant, make_client):
    # given a client with a token that does not exist
    client = make_client(host=tenant_host(tenant))
    client.credentials(HTTP_AUTHORIZATION="Token 0000000000000000000000000000000000000000")

    # when it lists jobs / then it is refused with 401 JSON
    response = client.get("/api/jobs/")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"


def test_unknown_host_answers_tenant_not_found(tenant, member, make_client):
    # given a host that names no tenant
    client = make_client(host="nobody.test.localhost", user=member)

    # when a request arrives there
    response = client.get("/api/jobs/")

    # then it is a JSON 404 naming the host, in no schema's data
    assert response.status_code == 404
    assert response.json() == {
        "error": {
            "code": "tenant_not_found",
            "message": "No shop is served at this host.",
            "details": {"host": "nobody.test.localhost"},
        }
    }


def test_tenant_with_missing_schema_answers_unavailable(tenant, make_client):
    # given a tenant row and domain whose schema does not exist, and one of its members
    domain = DomainFactory(domain="gone.test.localhost", tenant__schema_name="test_gone_shop")
    user = UserFactory()
    MembershipFactory(user=user, tenant=domain.tenant)
    client = make_client(host="gone.test.localhost", user=user)

    # when the member calls the API there
    response = client.get("/api/jobs/")

    # then it is a JSON 503, not a 500 page and not `public`'s data
    assert response.status_code == 503
    assert response.json() == {
        "error": {
            "code": "tenant_unavailable",
            "message": "This shop is not available right now.",
            "details": {"host": "gone.test.localhost", "tenant": "test_gone_shop"},
        }
    }


def test_missing_schema_answers_unavailable_on_the_async_path_too(tenant):
    # given a tenant row and domain whose schema does not exist
    DomainFactory(domain="gone-async.test.localhost", tenant__schema_name="test_gone_async")

    # and the middleware in async mode, as the ASGI handler (daphne) builds it: __acall__
    async def view(request):
        raise AssertionError("a missing schema must not reach a view")

    middleware = TenantResolutionMiddleware(view)
    request = RequestFactory(HTTP_HOST="gone-async.test.localhost").get("/api/jobs/")

    # when a request arrives
    response = async_to_sync(middleware)(request)
    connection.set_tenant(tenant)

    # then the same JSON 503 as the sync path
    assert response.status_code == 503
    assert json.loads(response.content) == {
        "error": {
            "code": "tenant_unavailable",
            "message": "This shop is not available right now.",
            "details": {"host": "gone-async.test.localhost", "tenant": "test_gone_async"},
        }
    }


def test_host_outside_allowed_hosts_is_a_json_bad_request(tenant, member, make_client):
    # given a host Django is not configured to serve
    client = make_client(host="evil.example.com", user=member)

    # when a request arrives there
    response = client.get("/api/jobs/")

    # then it is refused as malformed, in the API's error shape
    assert response.status_code == 400
    assert response.json() == {
        "error": {"code": "bad_request", "message": "The request is malformed.", "details": {}}
    }


def test_public_host_serves_no_tenant_api(tenant, member, make_client):
    # given a job in A, and the operators' public host
    make_job_in("pending")
    client = make_client(host="localhost", user=member)

    # when the tenant API is asked for there
    response = client.get("/api/jobs/")

    # then it does not exist on that host, and no job is shown
    assert response.status_code == 404
    assert response.json() == NOT_FOUND


@pytest.mark.parametrize("action", ["pause", "resume", "cancel", "retry"])
def test_viewer_cannot_act_on_jobs(tenant, make_client, action):
    # given a viewer of A and a pending job
    job = make_job_in("pending")
    viewer = UserFactory()
    MembershipFactory(user=viewer, tenant=tenant, role=MembershipRole.VIEWER)
    client = make_client(host=tenant_host(tenant), user=viewer)

    # when the viewer posts an action, and lists the jobs
    acted = client.post(f"/api/jobs/{job.pk}/{action}/")
    read = client.get("/api/jobs/")

    # then acting is forbidden (a member may know the job exists), reading is allowed,
    # and the job is untouched
    assert acted.status_code == 403
    assert acted.json()["error"]["code"] == "permission_denied"
    assert [row["id"] for row in read.json()["results"]] == [job.pk]
    assert MarketplaceJob.objects.get(pk=job.pk).status == "pending"
    assert JobEvent.objects.filter(job_id=job.pk).count() == 0


def test_member_reads_a_job_with_its_events(tenant, api_client):
    # given a job that was claimed
    job = make_job_in("running")

    # when the member reads it
    response = api_client.get(f"/api/jobs/{job.pk}/")

    # then it comes with its allowed actions and its audit trail
    assert response.status_code == 200
    body = response.json()
    assert (body["id"], body["status"], body["allowed_actions"]) == (
        job.pk,
        "running",
        ["pause", "cancel"],
    )
    assert [(e["from_status"], e["to_status"]) for e in body["events"]] == [("pending", "running")]


def test_member_can_pause_a_job(tenant, api_client, member):
    # given a pending job
    job = make_job_in("pending")

    # when the member pauses it
    response = api_client.post(f"/api/jobs/{job.pk}/pause/")

    # then it is paused, the answer shows the new actions, and the event names the member
    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["allowed_actions"]) == ("paused", ["resume", "cancel"])
    event = JobEvent.objects.get(job_id=job.pk)
    assert (event.from_status, event.to_status, event.actor_user_id) == (
        "pending",
        "paused",
        member.pk,
    )


def test_refused_action_answers_conflict_with_allowed_actions(tenant, api_client):
    # given a pending job
    job = make_job_in("pending")

    # when the member asks to resume it
    response = api_client.post(f"/api/jobs/{job.pk}/resume/")

    # then the API answers 409 with the current status and what is allowed
    assert response.status_code == 409
    assert response.json() == {
        "error": {
            "code": "invalid_transition",
            "message": "Cannot resume a job that is pending.",
            "details": {
                "job_id": job.pk,
                "current_status": "pending",
                "allowed_actions": ["pause", "cancel"],
            },
        }
    }


def test_membership_is_checked_by_id_not_by_name(tenant, other_tenant, make_client):
    # given "user-1", a member of A only, and "user-12", a member of B only (the system
    # Relist replaces checked ownership by substring, so user-1 matched user-12)
    user_1 = UserFactory(username="user-1")
    user_12 = UserFactory(username="user-12")
    MembershipFactory(user=user_1, tenant=tenant)
    MembershipFactory(user=user_12, tenant=other_tenant)
    make_job_in("pending")

    # when each calls the other's host, and their own
    user_1_on_b = make_client(host=tenant_host(other_tenant), user=user_1).get("/api/jobs/")
    user_12_on_a = make_client(host=tenant_host(tenant), user=user_12).get("/api/jobs/")
    user_1_on_a = make_client(host=tenant_host(tenant), user=user_1).get("/api/jobs/")
    user_12_on_b = make_client(host=tenant_host(other_tenant), user=user_12).get("/api/jobs/")

    # then only their own tenant answers
    assert (user_1_on_b.status_code, user_12_on_a.status_code) == (404, 404)
    assert (user_1_on_a.status_code, user_12_on_b.status_code) == (200, 200)
    assert len(user_1_on_a.json()["results"]) == 1
    assert user_12_on_b.json()["results"] == []


def test_requests_leave_the_tests_schema_alone(tenant, other_tenant, member, make_client):
    # given the connection in A
    # when a request is served on B's host
    make_client(host=tenant_host(other_tenant), user=member).get("/api/jobs/")
    # then the test client put the connection back in A (see conftest.TenantAPIClient)
    assert connection.schema_name == tenant.schema_name
