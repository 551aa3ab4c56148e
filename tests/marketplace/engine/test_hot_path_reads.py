"""What the hot path no longer reads per job, and that it still sees every change: the tenant's
mappings (kept per worker while the fingerprint read with the job is unchanged), the connection
(read with the job, its token used without a query), the first call's rate token (taken with
the worker slot) and the trigger window's "held back" mark (cleared only if nobody held back
more since)."""

import time

import pytest
from django.conf import settings

from core.errors import JobDeferred
from marketplace.engine import runner
from marketplace.handlers.ebay.client import EbayClient
from marketplace.models import MarketplaceJob, ValueMapping
from marketplace.rendering.mappings import Mappings
from marketplace.services import ratelimit
from tests.factories.marketplace import make_batch


def _ctx():
    job = MarketplaceJob.objects.order_by("-pk").first()
    assert job is not None
    loaded = runner._load(job.pk)
    assert loaded is not None
    return loaded[0]


def test_mappings_are_kept_while_unchanged_and_read_again_after_an_edit(
    tenant, no_broker, django_assert_num_queries
):
    # given a pending eBay publish, its mappings read once by a job
    make_batch(products=1)
    first = _ctx().client(Mappings.load)

    # when the next job asks for them: then no query, the same object
    ctx = _ctx()
    with django_assert_num_queries(0):
        assert ctx.client(Mappings.load) is first

    # when the shop edits a value mapping
    colour = ValueMapping.objects.filter(kind="colour", marketplace="ebay").first()
    assert colour is not None
    colour.external_name = "Navy"
    colour.save()

    # then the next job reads them again and sees the edit
    again = _ctx().client(Mappings.load)
    assert again is not first
    assert again.value("colour", colour.value, "ebay").external_name == "Navy"


def test_a_deleted_mapping_is_seen_by_the_next_job(tenant, no_broker):
    # given mappings kept by a first job
    make_batch(products=1)
    _ctx().client(Mappings.load)
    gone = ValueMapping.objects.filter(kind="colour", marketplace="ebay").first()
    assert gone is not None

    # when the shop deletes one
    gone.delete()

    # then the next job does not render with it
    assert _ctx().client(Mappings.load).value("colour", gone.value, "ebay") is None


def test_the_connection_read_with_the_job_gives_the_first_token_without_a_query(
    tenant, no_broker, django_assert_num_queries
):
    # given a pending eBay publish (the factory's connection holds "test-access-token")
    make_batch(products=1)
    ctx = _ctx()
    assert ctx.connection is not None

    # when the client is built and asks for its token
    with django_assert_num_queries(0):
        client = ctx.client(EbayClient.for_tenant, connection=ctx.connection)
        token = client.credentials.access_token()

    # then it was decrypted from the row read with the job
    assert token == "test-access-token"
    assert ctx.usable_connection("ebay").setup["merchant_location_key"]


@pytest.fixture
def slow_bucket(settings):
    """eBay at one token per 1,000 s, burst 2: no refill during a test."""
    settings.MARKETPLACE_RATE_LIMITS = {"ebay": {"per_second": 0.001, "burst": 2}}
    tenant = f"t{time.time_ns()}"
    yield tenant
    ratelimit.token_prepaid_clear()
    client = ratelimit.redis_client()
    client.delete(ratelimit.bucket_key(tenant=tenant, marketplace="ebay"))
    client.delete(ratelimit.tenant_slot_key(tenant=tenant, marketplace="ebay"))


def _limiter(tenant: str) -> ratelimit.TokenBucketLimiter:
    return ratelimit.TokenBucketLimiter(
        marketplace="ebay", tenant=tenant, **settings.MARKETPLACE_RATE_LIMITS["ebay"]
    )


def _tokens(tenant: str) -> float:
    key = ratelimit.bucket_key(tenant=tenant, marketplace="ebay")
    return float(ratelimit.redis_client().hget(key, "tokens") or "nan")


def test_the_slot_takes_the_first_calls_token_and_the_first_call_spends_it(slow_bucket):
    # given a slot taken with a full bucket of 2
    tenant = slow_bucket
    assert ratelimit.tenant_slot_take(tenant=tenant, marketplace="ebay", holder="h1")
    assert _tokens(tenant) == pytest.approx(1, abs=0.01)
    limiter = _limiter(tenant)

    # when the job makes its first call: then it spends the prepaid token (the bucket is as
    # the slot left it), the second call takes the last one, the third finds none
    limiter.acquire()
    assert _tokens(tenant) == pytest.approx(1, abs=0.01)
    limiter.acquire()
    assert _tokens(tenant) == pytest.approx(0, abs=0.01)


def test_an_empty_bucket_prepays_nothing_and_the_first_call_defers(slow_bucket):
    # given a bucket emptied by two slots' tokens
    tenant = slow_bucket
    for holder in ("h1", "h2"):
        assert ratelimit.tenant_slot_take(tenant=tenant, marketplace="ebay", holder=holder)
        ratelimit.token_prepaid_clear()  # those jobs ended without calling

    # when a third job takes a slot: then it gets the slot but no token, and its first call
    # defers the job as before
    assert ratelimit.tenant_slot_take(tenant=tenant, marketplace="ebay", holder="h3")
    limiter = _limiter(tenant)
    with pytest.raises(JobDeferred):
        limiter.acquire()


def test_a_prepaid_token_never_outlives_its_job(slow_bucket):
    # given a prepaid token that the job did not spend
    tenant = slow_bucket
    assert ratelimit.tenant_slot_take(tenant=tenant, marketplace="ebay", holder="h1")

    # when the job ends (the runner clears it) and another job on this thread calls
    ratelimit.token_prepaid_clear()
    limiter = _limiter(tenant)
    limiter.acquire()

    # then that call took a token of its own
    assert _tokens(tenant) == pytest.approx(0, abs=0.01)


def test_the_held_mark_is_cleared_only_if_nobody_held_back_since(settings):
    # given a window of 1 and two jobs: the second is held back
    settings.RELIST_TENANT_TRIGGER_WINDOW = 1
    tenant = f"t{time.time_ns()}"
    admitted = ratelimit.trigger_window_admit(
        tenant=tenant, marketplace="ebay", job_ids=[1, 2], lost_after_s=60, resend=False
    )
    assert admitted == {1}

    # when job 1's run ends: the mark says something is held back
    members, mark, _ = ratelimit.trigger_window_leave(tenant=tenant, marketplace="ebay", job_id=1)
    assert members == []
    assert mark is not None

    # and another enqueue holds back more before the top-up clears the mark
    ratelimit.trigger_window_admit(
        tenant=tenant, marketplace="ebay", job_ids=[3, 4], lost_after_s=60, resend=False
    )
    ratelimit.trigger_window_clear_held(tenant=tenant, marketplace="ebay", mark=mark)

    # then the newer hold survives; clearing with the current mark removes it
    _, newer, _ = ratelimit.trigger_window_leave(tenant=tenant, marketplace="ebay", job_id=3)
    assert newer is not None
    assert newer != mark
    ratelimit.trigger_window_clear_held(tenant=tenant, marketplace="ebay", mark=newer)
    assert ratelimit.trigger_window_leave(tenant=tenant, marketplace="ebay", job_id=4)[1] is None
    for key in ratelimit._window_keys(tenant, "ebay"):
        ratelimit.redis_client().delete(key)
