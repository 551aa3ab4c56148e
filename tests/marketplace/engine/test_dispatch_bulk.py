"""Bulk publishing of job triggers (dispatch._TriggerPublisher): each message on the broker is
the one app.send_task sends for the same job (headers, properties, body, the list it lands in,
tenant-schemas-celery's schema header, the eta of a job due later); only its ids differ.
tests/integration/test_dispatch_bulk.py has a real worker run them."""

import base64
import json
from datetime import timedelta

import pytest
import redis
from django.conf import settings
from django.utils import timezone

from config.celery import app
from marketplace.engine.dispatch import RUN_JOB_TASK, TriggerRow, jobs_enqueue
from tests.factories.marketplace import make_job

_IDS = frozenset({"id", "root_id", "correlation_id", "delivery_tag"})


@pytest.fixture
def broker():
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    client.flushdb()
    yield client
    client.flushdb()


def drain(broker) -> dict[int, tuple[str, dict]]:
    """Every message on the broker, by job id, with the Redis list it is in; empties it."""
    found = {}
    for key in broker.scan_iter():
        if broker.type(key) != b"list":
            continue
        for raw in broker.lrange(key, 0, -1):
            envelope = json.loads(raw)
            args = json.loads(base64.b64decode(envelope["body"]))[0]
            found[args[0]] = (key.decode(), envelope)
    broker.flushdb()
    return found


def without_ids(envelope: dict) -> dict:
    return {
        **envelope,
        "headers": {k: v for k, v in envelope["headers"].items() if k not in _IDS},
        "properties": {k: v for k, v in envelope["properties"].items() if k not in _IDS},
    }


def test_bulk_triggers_are_the_messages_send_task_sends(tenant, broker):
    # given a normal-band job, a priority 1 job (high band), an Etsy job and a job due later
    normal = make_job(marketplace="ebay", action="sync_orders", priority=3)
    urgent = make_job(marketplace="ebay", action="sync_orders", priority=1)
    etsy = make_job(marketplace="etsy", action="sync_listings", priority=4)
    later = make_job(marketplace="ebay", action="sync_orders", priority=3)
    due = timezone.now() + timedelta(hours=1)
    triggers = [
        TriggerRow(normal.pk, "ebay", 3, None),
        TriggerRow(urgent.pk, "ebay", 1, None),
        TriggerRow(etsy.pk, "etsy", 4, None),
        TriggerRow(later.pk, "ebay", 3, due),
    ]

    # when they are published in bulk, and then one by one through send_task
    assert jobs_enqueue(triggers) == 4
    bulk = drain(broker)
    expected = {normal.pk: "ebay", urgent.pk: "ebay.high", etsy.pk: "etsy", later.pk: "ebay"}
    for job_id, queue in expected.items():
        app.send_task(
            RUN_JOB_TASK, args=(job_id,), queue=queue, eta=due if job_id == later.pk else None
        )
    single = drain(broker)

    # then each lands in the same list with the same message, but for its ids
    assert {job_id: queue for job_id, (queue, _) in bulk.items()} == expected
    assert {job_id: without_ids(m) for job_id, (_, m) in bulk.items()} == {
        job_id: without_ids(m) for job_id, (_, m) in single.items()
    }
    # and carries the tenant's schema, its own task id, and an eta only when due later
    headers = {job_id: m["headers"] for job_id, (_, m) in bulk.items()}
    assert {h["_schema_name"] for h in headers.values()} == {tenant.schema_name}
    assert {job_id: h["eta"] for job_id, h in headers.items()} == {
        normal.pk: None,
        urgent.pk: None,
        etsy.pk: None,
        later.pk: due.isoformat(),
    }
    ids = [m["properties"]["correlation_id"] for _, m in bulk.values()]
    assert ids == [h["id"] for h in headers.values()]
    assert len(set(ids)) == 4
    assert {h["task"] for h in headers.values()} == {RUN_JOB_TASK}


def test_only_what_fits_the_trigger_window_is_published(tenant, broker, settings):
    # given a window of 2 triggers per tenant and marketplace, and 3 jobs
    settings.RELIST_TENANT_TRIGGER_WINDOW = 2
    jobs = [make_job(marketplace="etsy", action="sync_listings", priority=4) for _ in range(3)]
    redis.Redis.from_url(settings.REDIS_URL).delete(f"relist:window:{tenant.schema_name}:etsy")

    # when they are published in bulk
    sent = jobs_enqueue([TriggerRow(job.pk, "etsy", 4, None) for job in jobs])

    # then the two oldest are on the broker, the third is held for jobs_top_up
    assert sent == 2
    assert sorted(drain(broker)) == [jobs[0].pk, jobs[1].pk]
