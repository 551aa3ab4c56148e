"""The task body before the claim: a database failure retries the message instead of
acknowledging it, the task runs in the schema its headers name, and a message for a tenant that
does not exist is rejected with a log line. Eager runs need autocommit (live_tenant): the task
hooks close a connection found inside a transaction."""

import logging

import pytest
from django.db import OperationalError, connection
from tenant_schemas_celery.task import TenantTask

from marketplace import tasks
from marketplace.engine import runner
from tests.factories.marketplace import make_job


@pytest.fixture
def fake_run(monkeypatch):
    """job_run replaced by a recorder of the schema it ran in; `fail` holds errors to raise
    first, one per call."""
    calls: dict[str, list] = {"schemas": [], "fail": []}

    def run(*, job_id: int, **_: object) -> runner.RunOutcome:
        calls["schemas"].append(connection.schema_name)
        if calls["fail"]:
            raise calls["fail"].pop(0)
        return runner.RunOutcome("completed")

    monkeypatch.setattr(runner, "job_run", run)
    return calls


def test_an_operational_error_before_the_claim_retries_the_message(
    live_tenant, no_broker, fake_run
):
    # given the database refuses the first try
    job = make_job()
    fake_run["fail"].append(OperationalError("connection refused"))
    # when the task runs (eagerly: Celery runs the retry at once)
    result = tasks.run_job_task.apply(
        args=(job.pk,), headers={"_schema_name": live_tenant.schema_name}
    )
    # then it was tried again, in the tenant, and succeeded instead of being acknowledged failed
    assert fake_run["schemas"] == [live_tenant.schema_name, live_tenant.schema_name]
    assert result.get() == "completed"


def test_the_retry_of_an_infrastructure_failure_backs_off():
    assert [tasks._infra_countdown(n) for n in (0, 1, 2, 3, 10)] == [1.0, 2.0, 4.0, 8.0, 30.0]


def test_a_failed_schema_switch_is_repaired_by_the_task(
    live_tenant, no_broker, fake_run, monkeypatch
):
    # given tenant-schemas-celery's switch fails in task_prerun (it only logs that)
    job = make_job()

    def refused(cls, schema_name):
        raise OperationalError("connection refused")

    monkeypatch.setattr(TenantTask, "get_tenant_for_schema", classmethod(refused))
    connection.set_schema_to_public()
    # when
    result = tasks.run_job_task.apply(
        args=(job.pk,), headers={"_schema_name": live_tenant.schema_name}
    )
    # then the job ran in its tenant's schema, not in public
    assert fake_run["schemas"] == [live_tenant.schema_name]
    assert result.get() == "completed"
    connection.set_tenant(live_tenant)


def test_a_forged_schema_is_rejected_with_a_log_line(live_tenant, no_broker, fake_run, caplog):
    # when a message names a schema no tenant has
    with caplog.at_level(logging.WARNING, logger="marketplace.tasks"):
        result = tasks.run_job_task.apply(args=(1,), headers={"_schema_name": "forged"})
    # then nothing ran and the rejection is logged
    assert fake_run["schemas"] == []
    assert result.get() == "rejected"
    assert [r.msg for r in caplog.records if r.name == "marketplace.tasks"] == [
        "job.message_rejected"
    ]
    connection.set_tenant(live_tenant)
