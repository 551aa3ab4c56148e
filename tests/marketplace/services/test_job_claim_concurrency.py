"""The claim is a compare-and-set: racing workers on real, separate database connections never
both run a job. Data is committed (`live_tenant`) so every connection sees it."""

import random
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from django.db import connection

from marketplace.engine import lifecycle
from marketplace.models import JobEvent, MarketplaceJob
from marketplace.states import JobStatus
from tenants.models import Tenant
from tests.factories.marketplace import make_job

WAIT_S = 10


def _on_own_connection(tenant: Tenant, work: Callable[[], Any]) -> Callable[[], Any]:
    """Wrap `work` to run in a thread on its own connection, in `tenant`'s schema."""

    def run() -> Any:
        connection.set_tenant(tenant)
        try:
            return work()
        finally:
            connection.close()

    return run


def test_two_workers_claiming_the_same_job_exactly_one_wins(live_tenant, no_broker, monkeypatch):
    # given a committed pending job, and two workers that both read it as pending before
    # either writes (the barrier holds each one between its read and its compare-and-set)
    job = make_job()
    barrier = threading.Barrier(2, timeout=WAIT_S)
    real_transition = lifecycle.job_transition

    def transition_together(**kwargs: Any) -> MarketplaceJob:
        barrier.wait()
        return real_transition(**kwargs)

    monkeypatch.setattr(lifecycle, "job_transition", transition_together)

    def claim() -> MarketplaceJob | None:
        return lifecycle.job_claim(job_id=job.pk)

    # when both claim at the same time on their own connections
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = [pool.submit(_on_own_connection(live_tenant, claim)) for _ in range(2)]
        results = [future.result(timeout=WAIT_S) for future in futures]

    # then exactly one got the job, the other None, and one claim is recorded
    winners = [result for result in results if result is not None]
    assert len(winners) == 1
    assert results.count(None) == 1
    assert winners[0].pk == job.pk
    stored = MarketplaceJob.objects.get(pk=job.pk)
    assert (stored.status, stored.attempts) == (JobStatus.RUNNING, 1)
    assert list(JobEvent.objects.filter(job_id=job.pk).values_list("from_status", "to_status")) == [
        (JobStatus.PENDING, JobStatus.RUNNING)
    ]


def test_burst_of_workers_claims_every_job_exactly_once(live_tenant, no_broker):
    # given twenty committed pending jobs and eight workers, each going through all of them
    # in its own order
    job_ids = [make_job().pk for _ in range(20)]
    workers = 8
    start = threading.Barrier(workers, timeout=WAIT_S)

    def claim_all(seed: int) -> Callable[[], list[int]]:
        order = random.Random(seed).sample(job_ids, k=len(job_ids))

        def work() -> list[int]:
            start.wait()
            claimed = [lifecycle.job_claim(job_id=job_id) for job_id in order]
            return [job.pk for job in claimed if job is not None]

        return work

    # when they all race
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [
            pool.submit(_on_own_connection(live_tenant, claim_all(seed))) for seed in range(workers)
        ]
        claimed = [pk for future in futures for pk in future.result(timeout=WAIT_S)]

    # then every job was claimed by exactly one worker, once
    assert Counter(claimed) == dict.fromkeys(job_ids, 1)
    assert dict(MarketplaceJob.objects.values_list("pk", "attempts")) == dict.fromkeys(job_ids, 1)
    assert set(MarketplaceJob.objects.values_list("status", flat=True)) == {JobStatus.RUNNING}
    claims = Counter(
        JobEvent.objects.filter(
            from_status=JobStatus.PENDING, to_status=JobStatus.RUNNING
        ).values_list("job_id", flat=True)
    )
    assert claims == dict.fromkeys(job_ids, 1)
    assert JobEvent.objects.count() == len(job_ids)
