"""A dead worker process's running jobs are recovered by the next sweep, in seconds; a live
one's are not, and nothing is taken for dead right after Redis lost its keys."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from marketplace.engine import lifecycle, liveness, sweep
from marketplace.models import MarketplaceJob
from marketplace.services.ratelimit import redis_client
from marketplace.states import JobStatus
from tests.factories.marketplace import make_job

DEAD, ALIVE = "gone-host:1", "live-host:2"


@pytest.fixture
def keys():
    client = redis_client()
    names = [liveness.SINCE_KEY, *(liveness.ALIVE_KEY.format(ident=i) for i in (DEAD, ALIVE))]
    client.delete(*names)
    client.set(liveness.ALIVE_KEY.format(ident=ALIVE), "1", ex=60)
    yield client
    client.delete(*names)


def _running(claimer: str) -> MarketplaceJob:
    job = lifecycle.job_claim(job_id=make_job().pk)
    MarketplaceJob.objects.filter(pk=job.pk).update(
        claimed_by=claimer, heartbeat_at=timezone.now() - timedelta(seconds=30)
    )
    return job


def test_the_jobs_of_a_dead_process_are_recovered_and_a_live_ones_kept(tenant, no_broker, keys):
    # given Redis has known the processes for longer than one expiry period
    keys.set(liveness.SINCE_KEY, str(time.time() - 3600))
    dead, alive = _running(DEAD), _running(ALIVE)
    # when
    recovered = sweep.jobs_recover_dead_workers()
    # then only the dead process's job went back to pending, long before the stale limit
    assert recovered == 1
    statuses = dict(MarketplaceJob.objects.values_list("pk", "status"))
    assert statuses == {dead.pk: JobStatus.PENDING, alive.pk: JobStatus.RUNNING}


def test_nothing_is_taken_for_dead_right_after_redis_lost_its_keys(tenant, no_broker, keys):
    # given Redis restarted empty: no marker, no keys
    _running(DEAD)
    # when the sweep looks, now and again before one expiry period passed
    first, second = sweep.jobs_recover_dead_workers(), sweep.jobs_recover_dead_workers()
    # then nothing was recovered, and the marker now dates the restart
    assert (first, second) == (0, 0)
    assert keys.get(liveness.SINCE_KEY) is not None


def test_a_claim_stamps_the_claiming_process(tenant, no_broker):
    job = lifecycle.job_claim(job_id=make_job().pk)
    assert MarketplaceJob.objects.get(pk=job.pk).claimed_by == liveness.process_ident()
    assert redis_client().exists(liveness.ALIVE_KEY.format(ident=liveness.process_ident()))
