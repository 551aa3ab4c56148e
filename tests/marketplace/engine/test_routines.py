"""The hot path's statements run as PL/pgSQL functions (marketplace.engine.routines): made by
migrate, made again when missing, named after their definition, and running exactly the
statement `sql` holds."""

import pytest
from django.db import connection
from django.utils import timezone

from marketplace.engine import routines, runner, sql
from marketplace.models import MarketplaceJob
from marketplace.states import JobStatus
from tests.factories.marketplace import make_batch


def _present() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute(routines._PRESENT, {"names": [r.name for r in routines.ALL]})
        return {name for (name,) in cursor.fetchall()}


def test_migrate_made_every_function_in_public(tenant):
    # then: the test database was migrated, and post_migrate made them
    assert _present() == {routine.name for routine in routines.ALL}


def test_a_function_is_named_after_its_definition():
    # given the claim statement and the same statement with one word changed
    changed = routines.Routine(
        "claim",
        sql.claim().replace("attempts = attempts + 1", "attempts = attempts + 2", 1),
        params=routines.CLAIM.params,
        returns=routines.CLAIM.returns,
        constants=routines.CLAIM.constants,
    )

    # then they are two functions: code that calls one never runs the other's definition
    assert changed.name != routines.CLAIM.name
    assert changed.name.startswith("relist_claim_")
    assert routines.CLAIM.definition.startswith(
        f"CREATE OR REPLACE FUNCTION public.{routines.CLAIM.name}"
    )


def test_the_function_body_is_the_statement_with_its_parameters():
    # then every placeholder of the statement became a parameter of the function
    assert "%(" not in routines.BOUNDARY.definition
    assert "p_job" in routines.BOUNDARY.definition
    assert "p_next" in routines.BOUNDARY.definition
    assert routines.BOUNDARY.call.count("%(") == len(routines.BOUNDARY.params)


def test_the_declared_transitions_are_written_into_the_definitions():
    # then the claim's and completion's statuses and counter deltas are literals of the
    # functions, taken from the state machine (sql.claim_params / complete_params), not sent
    assert "ARRAY['pending']::text[]" in routines.CLAIM.definition
    assert "status = 'running'" in routines.CLAIM.definition
    assert "status = 'completed'" in routines.COMPLETE.definition
    assert "(b.completed_count + 1)" in routines.COMPLETE.definition
    assert "%(to)s" not in routines.COMPLETE.call
    assert "%(sources)s" not in routines.CLAIM.call


def test_a_parameter_missing_from_the_declaration_is_refused_at_import():
    with pytest.raises(ValueError, match="not matched"):
        routines.Routine(
            "x", "SELECT %(a)s, %(b)s", params=(("a", "int"),), returns=(("a", "int"),)
        )


def test_a_dropped_function_is_made_again_before_the_next_call(tenant, no_broker):
    # given a pending job, and the claim function gone from the database
    job = MarketplaceJob.objects.get(batch=make_batch(products=1))
    with connection.cursor() as cursor:
        cursor.execute(f"DROP FUNCTION public.{routines.CLAIM.name}")
    routines.forget()  # a new process: it has not checked the catalogue yet
    assert routines.CLAIM.name not in _present()

    # when the engine claims the job
    ctx, steps = runner._load(job.pk)
    claimed = runner._claim(ctx, steps, [], timezone.now())

    # then the function was made again and the claim went through
    assert claimed is True
    assert routines.CLAIM.name in _present()
    assert MarketplaceJob.objects.get(pk=job.pk).status == JobStatus.RUNNING


def test_writing_calls_are_the_functions_that_write():
    # then bench.queries counts a commit for each of these in autocommit, and none for LOAD
    assert routines.LOAD.call not in routines.WRITING_CALLS
    assert {routines.CLAIM.call, routines.BOUNDARY.call, routines.COMPLETE.call} <= (
        routines.WRITING_CALLS
    )
