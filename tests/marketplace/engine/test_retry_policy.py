"""The retry policy: one classification, backoff that reads its settings, budgets per step."""

from datetime import timedelta

import pytest
from django.utils import timezone

from core.errors import is_ambiguous, is_retryable_status
from marketplace.engine import lifecycle, policy
from marketplace.models import MarketplaceJob
from marketplace.states import JobStatus
from tests.factories.marketplace import make_job


@pytest.mark.parametrize(
    ("status", "retryable"),
    [(500, True), (503, True), (408, True), (429, True), (400, False), (404, False), (409, False)],
    ids=lambda value: str(value),
)
def test_one_classification_of_http_statuses(status, retryable):
    assert is_retryable_status(status) is retryable


def test_only_writes_are_ambiguous():
    assert [is_ambiguous(m) for m in ("GET", "HEAD", "POST", "PUT", "DELETE")] == [
        False,
        False,
        True,
        True,
        True,
    ]


@pytest.fixture
def no_jitter(monkeypatch):
    """The upper bound of the full jitter, so delays are exact."""
    monkeypatch.setattr(policy.random, "uniform", lambda low, high: high)


def test_the_backoff_settings_are_read_change_one_and_the_delay_changes(settings, no_jitter):
    # given
    settings.RELIST_RETRY_BACKOFF_SCALE_S = 1.0
    settings.RELIST_RETRY_BACKOFF_CAP_S = 600.0
    before = policy.backoff_delay(attempts=3)
    # when
    settings.RELIST_RETRY_BACKOFF_SCALE_S = 10.0
    scaled = policy.backoff_delay(attempts=3)
    settings.RELIST_RETRY_BACKOFF_CAP_S = 25.0
    capped = policy.backoff_delay(attempts=3)
    # then
    assert (before, scaled, capped) == (8.0, 80.0, 25.0)


def test_a_retry_after_is_a_floor_under_the_cap(settings, no_jitter):
    settings.RELIST_RETRY_BACKOFF_SCALE_S = 0.01
    settings.RELIST_RETRY_BACKOFF_CAP_S = 60.0
    assert policy.backoff_delay(attempts=1, retry_after=30) == 30.0
    assert policy.backoff_delay(attempts=1, retry_after=300) == 60.0


def test_a_job_waits_what_the_settings_say(tenant, no_broker, settings, no_jitter):
    # given a running job, and a scale of 7 s
    settings.RELIST_RETRY_BACKOFF_SCALE_S = 7.0
    job = lifecycle.job_claim(job_id=make_job().pk)
    # when its step fails transiently
    before = timezone.now()
    lifecycle.job_retry_or_fail(job=job, error_code="http_503", message="down", step_attempts=1)
    # then it waits 7 × 2 s
    stored = MarketplaceJob.objects.get(pk=job.pk)
    assert stored.status == JobStatus.PENDING
    waited = stored.next_attempt_at - before
    assert timedelta(seconds=14) <= waited < timedelta(seconds=15)


def test_each_step_has_its_own_retries_and_the_job_a_bound(settings):
    # given max_retries 3 and a job bound of 3 × 3 + 1 runs
    settings.RELIST_JOB_ATTEMPTS_FACTOR = 3
    budget = policy.Budget(max_retries=3)
    # then a third step on its first retry is fine although the job ran 7 times
    assert not budget.exhausted(step_attempts=2, job_attempts=7)
    # a step started a 4th time is out, and so is a job that ran 10 times
    assert budget.exhausted(step_attempts=4, job_attempts=4)
    assert budget.exhausted(step_attempts=1, job_attempts=10)


def test_a_later_step_keeps_its_retries_after_earlier_steps_spent_theirs(tenant, no_broker):
    # given a job that already ran 4 times (more than max_retries) for its earlier steps
    job = lifecycle.job_claim(job_id=make_job().pk)
    MarketplaceJob.objects.filter(pk=job.pk).update(attempts=4)
    job.refresh_from_db()
    # when its current step fails for the first time
    lifecycle.job_retry_or_fail(job=job, error_code="http_503", message="down", step_attempts=1)
    # then it is retried, not failed
    assert MarketplaceJob.objects.get(pk=job.pk).status == JobStatus.PENDING
