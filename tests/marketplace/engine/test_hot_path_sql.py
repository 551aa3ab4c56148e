"""The hot path's prewritten statements against the state machine they must not disagree with:
the same move through the SQL and through the declared django-fsm-2 transition, on twin jobs,
leaves the same rows."""

import re
from typing import Any

from django.forms.models import model_to_dict
from django.utils import timezone

from batches.models import BatchJob
from marketplace.engine import lifecycle, runner, sql
from marketplace.engine.fsm import transition_sources, transition_target
from marketplace.models import JobEvent, Listing, MarketplaceJob
from marketplace.models.jobs import TRANSITION_UPDATE_FIELDS
from marketplace.states import JobStatus, ListingStatus
from tests.factories.marketplace import make_batch

# Columns that differ between twins by construction.
TWIN_VOLATILE = {"id", "product", "idempotency_key", "expires_at", "dispatched_at", "batch"}


def _row(job_id: int) -> dict[str, Any]:
    job = MarketplaceJob.objects.get(pk=job_id)
    data = model_to_dict(job)
    data.update(started=job.started_at is not None, finished=job.finished_at is not None)
    data.pop("started_at"), data.pop("finished_at"), data.pop("heartbeat_at")
    return {k: v for k, v in data.items() if k not in TWIN_VOLATILE}


def _events(job_id: int) -> list[tuple[str, str, str]]:
    return list(
        JobEvent.objects.filter(job_id=job_id)
        .order_by("id")
        .values_list("from_status", "to_status", "actor")
    )


def _set_clause_columns(statement: str) -> set[str]:
    """The job table's columns a statement's first UPDATE sets."""
    update = re.search(rf"UPDATE {sql.JOB} (SET .*?) WHERE", statement, re.S)
    assert update is not None
    return set(re.findall(r"(?:SET|,)\s+(\w+) =", update[1]))


class _Finishing:
    """A handler whose finish() records a listing, as eBay's publish does."""

    def finish(self, ctx: Any, results: dict[str, Any]) -> dict[str, Any]:
        ctx.record_listing(status=ListingStatus.ACTIVE, external_id="L-1", url="https://x/L-1")
        return {"listing_id": "L-1"}


def test_the_statements_read_their_statuses_from_the_declared_transitions():
    # then
    assert sql.claim_params()["sources"] == transition_sources("claim") == ["pending"]
    assert sql.claim_params()["to"] == transition_target("claim") == "running"
    assert sql.complete_params()["sources"] == transition_sources("complete") == ["running"]
    assert sql.complete_params()["to"] == transition_target("complete") == "completed"


def test_the_statements_set_exactly_the_columns_the_transitions_save():
    # then: the claim and completion write what the model's save(update_fields) writes
    assert _set_clause_columns(sql.claim()) == set(TRANSITION_UPDATE_FIELDS["claim"])
    assert _set_clause_columns(sql.complete()) == set(TRANSITION_UPDATE_FIELDS["complete"])


def test_sql_claim_and_completion_leave_the_rows_the_orm_transitions_leave(tenant, no_broker):
    # given twin batches of one job each
    by_sql, by_orm = make_batch(products=1), make_batch(products=1)
    sql_job = MarketplaceJob.objects.get(batch=by_sql)
    orm_job = MarketplaceJob.objects.get(batch=by_orm)
    now = timezone.now()

    # when the first is claimed by the hot-path statement and the second by the transition
    ctx, steps = runner._load(sql_job.pk)
    assert runner._claim(ctx, steps, [], now)
    claimed = lifecycle.job_claim(job_id=orm_job.pk, now=now)

    # then
    assert claimed is not None
    assert _row(sql_job.pk) == _row(orm_job.pk)
    assert _events(sql_job.pk) == _events(orm_job.pk) == [("pending", "running", "worker")]
    assert BatchJob.objects.get(pk=by_sql.pk).status == "running"
    assert BatchJob.objects.get(pk=by_orm.pk).status == "running"

    # when both complete
    runner._complete(ctx, _Finishing(), None, {})
    lifecycle.job_complete(job=claimed, result={"listing_id": "L-1"})

    # then the job rows, events and batch counters agree, and the listing was upserted
    assert _row(sql_job.pk)["status"] == JobStatus.COMPLETED
    assert _row(sql_job.pk) == _row(orm_job.pk)
    assert _events(sql_job.pk) == _events(orm_job.pk)
    counters = ("status", "completed_count", "failed_count", "cancelled_count", "expired_count")
    assert BatchJob.objects.filter(pk=by_sql.pk).values(*counters).get() == (
        BatchJob.objects.filter(pk=by_orm.pk).values(*counters).get()
    )
    assert BatchJob.objects.get(pk=by_sql.pk).status == "completed"
    listing = Listing.objects.get(product_id=sql_job.product_id, marketplace="ebay")
    assert (listing.status, listing.external_id) == (ListingStatus.ACTIVE, "L-1")


def test_the_claim_statement_refuses_what_the_transition_refuses(tenant, no_broker):
    # given a job that is not pending any more
    job = MarketplaceJob.objects.get(batch=make_batch(products=1))
    ctx, steps = runner._load(job.pk)
    lifecycle.job_claim(job_id=job.pk)

    # when the statement tries to claim it again
    claimed = runner._claim(ctx, steps, [], timezone.now())

    # then nothing moved: one claim, one event
    assert claimed is False
    assert MarketplaceJob.objects.get(pk=job.pk).attempts == 1
    assert len(_events(job.pk)) == 1
