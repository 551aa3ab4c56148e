"""The hot path as prewritten statements: a job of N marketplace calls costs

    LOAD      1 SELECT: the pending job, its action type, product, images, listing, steps, the
              shop's connection to the marketplace and the fingerprint of its mappings;
    CLAIM     1 statement: claim (compare-and-set) + event + step plan + first step start +
              batch "started";
    BOUNDARY  1 statement per step boundary: step done + heartbeat + requests read + next start;
    COMPLETE  1 statement: last step done + job completed + event + listing upsert + batch
              counters (job row first, batch row last: the one lock order, batches.counters).

Each is a single statement in autocommit, so it is its own transaction: N + 1 commits, no
SAVEPOINT. The rare paths (retry, failure, deferral, stop on request, expiry) use the ORM
services in `lifecycle`. Statuses come from the declared transitions (`fsm`), and
tests/marketplace/services/test_engine_sql.py runs both paths on twin jobs and compares rows.
Tables are unqualified: they resolve in the tenant's search_path (public for action types)."""

from functools import cache

from batches.counters import BATCH_COUNTERS_SET
from batches.models import BatchJob
from marketplace.catalogue.models import MarketplaceActionType
from marketplace.engine.fsm import transition_sources, transition_target
from marketplace.models import (
    Category,
    CategoryMapping,
    JobEvent,
    Listing,
    MarketplaceConnection,
    MarketplaceJob,
    MarketplaceTask,
    Product,
    ValueMapping,
)
from marketplace.models.products import ProductImage
from marketplace.states import JobStatus

JOB = MarketplaceJob._meta.db_table
TASK = MarketplaceTask._meta.db_table
EVENT = JobEvent._meta.db_table
BATCH = BatchJob._meta.db_table
LISTING = Listing._meta.db_table
PRODUCT = Product._meta.db_table
IMAGE = ProductImage._meta.db_table
ACTION = MarketplaceActionType._meta.db_table
CONNECTION = MarketplaceConnection._meta.db_table
MAPPING_TABLES = (
    Category._meta.db_table,
    CategoryMapping._meta.db_table,
    ValueMapping._meta.db_table,
)

# Changes whenever a row of the shop's mapping tables is created, saved (auto_now updated_at) or
# deleted: the worker keeps the tenant's Mappings in memory while this stays the same
# (runner._mappings), instead of reading three whole tables for every job.
_MAPPINGS_FINGERPRINT = " || '|' || ".join(
    f"(SELECT count(*) || ':' || coalesce(max(id), 0) || ':' || coalesce(max(updated_at)::text, '')"
    f" FROM {table})"
    for table in MAPPING_TABLES
)

LOAD = f"""
SELECT row_to_json(j), row_to_json(a),
    -- numeric as text: JSON numbers would come back as floats
    (SELECT to_jsonb(p) || jsonb_build_object('price', p.price::text)
       FROM {PRODUCT} p WHERE p.id = j.product_id),
    (SELECT coalesce(json_agg(i.url ORDER BY i.position), '[]')
       FROM {IMAGE} i WHERE i.product_id = j.product_id),
    (SELECT row_to_json(l) FROM {LISTING} l
       WHERE l.product_id = j.product_id AND l.marketplace = j.marketplace),
    (SELECT coalesce(json_agg(t ORDER BY t.position), '[]') FROM {TASK} t WHERE t.job_id = j.id),
    (SELECT row_to_json(c) FROM {CONNECTION} c WHERE c.marketplace = j.marketplace),
    {_MAPPINGS_FINGERPRINT}
FROM {JOB} j JOIN {ACTION} a ON a.id = j.action_type_id
WHERE j.id = %(job)s AND j.status = %(pending)s
"""

_EVENT = f"""INSERT INTO {EVENT} (job_id, from_status, to_status, at, actor, actor_user_id, reason)
    SELECT id, %(from)s, %(to)s, %(now)s, 'worker', NULL, '' FROM job"""


@cache
def claim() -> str:
    """Claim (pending → running, only if due and not expired) and start the first step. New
    plans are inserted from %(plan)s (a JSON array); an existing plan's first step to run is
    %(first_step)s. Returns (attempts, started_at, [new step ids in position order])."""
    return f"""
WITH job AS (
    UPDATE {JOB} SET status = %(to)s, attempts = attempts + 1,
        started_at = coalesce(started_at, %(now)s), heartbeat_at = %(now)s,
        next_attempt_at = NULL, status_reason = '', updated_at = %(now)s,
        claimed_by = %(claimer)s
    WHERE id = %(job)s AND status = ANY(%(sources)s)
      AND (next_attempt_at IS NULL OR next_attempt_at <= %(now)s) AND expires_at > %(now)s
    RETURNING id, batch_id, attempts, started_at
), event AS ({_EVENT}
), planned AS (
    INSERT INTO {TASK} (job_id, position, task_type, name, description, status, attempts,
        payload, result, http_method, http_path, error, started_at, finished_at)
    SELECT job.id, s.position, s.task_type, s.name, s.description,
        CASE WHEN s.position = %(first_position)s THEN 'processing' ELSE 'pending' END,
        CASE WHEN s.position = %(first_position)s THEN 1 ELSE 0 END,
        s.payload, '{{}}'::jsonb, s.http_method, s.http_path, '',
        CASE WHEN s.position = %(first_position)s THEN %(now)s::timestamptz END, NULL
    FROM job, jsonb_to_recordset(%(plan)s::jsonb) AS s(position int, task_type text, name text,
        description text, payload jsonb, http_method text, http_path text)
    RETURNING id, position
), first_step AS (
    UPDATE {TASK} SET status = 'processing', attempts = attempts + 1, started_at = %(now)s,
        error = ''
    WHERE id = %(first_step)s AND EXISTS (SELECT 1 FROM job)
), batch AS (
    UPDATE {BATCH} SET started_at = %(now)s, updated_at = %(now)s,
        status = CASE WHEN status = 'pending' THEN 'running' ELSE status END
    WHERE id = (SELECT batch_id FROM job) AND started_at IS NULL
)
SELECT job.attempts, job.started_at,
    (SELECT coalesce(array_agg(id ORDER BY position), '{{}}') FROM planned)
FROM job
"""


def claim_params() -> dict[str, object]:
    sources = transition_sources("claim")
    return {"sources": sources, "from": sources[0], "to": transition_target("claim")}


BOUNDARY = f"""
WITH job AS (
    UPDATE {JOB} SET heartbeat_at = %(now)s WHERE id = %(job)s AND status = %(running)s
    RETURNING cancel_requested, pause_requested
), done AS (
    UPDATE {TASK} SET status = 'success', result = %(result)s, finished_at = %(now)s
    WHERE id = %(done)s AND EXISTS (SELECT 1 FROM job)
), next_step AS (
    UPDATE {TASK} SET status = 'processing', attempts = attempts + 1, started_at = %(now)s,
        error = ''
    WHERE id = %(next)s
      AND EXISTS (SELECT 1 FROM job WHERE NOT cancel_requested AND NOT pause_requested)
    RETURNING attempts
)
SELECT job.cancel_requested, job.pause_requested, (SELECT attempts FROM next_step) FROM job
"""
"""Record the finished step, write the heartbeat, read the requests and, when none is pending,
start the next step. No row: the job is no longer running (recovered elsewhere)."""

HEARTBEAT = f"""
UPDATE {JOB} SET heartbeat_at = %(now)s WHERE id = %(job)s AND status = %(running)s
RETURNING cancel_requested, pause_requested
"""
"""Inside a long step (ctx.heartbeat()): a heartbeat-only UPDATE is HOT (no indexed column)."""


@cache
def complete() -> str:
    """Last step done (if %(done)s), running → completed with its event, the listing upsert
    (when %(listing)s), and the batch counters, in the lock order job row → batch row."""
    return f"""
WITH job AS (
    UPDATE {JOB} SET status = %(to)s, finished_at = %(now)s, result_data = %(result_data)s,
        error_code = '', error_message = '', updated_at = %(now)s
    WHERE id = %(job)s AND status = ANY(%(sources)s)
    RETURNING id, batch_id, product_id
), event AS ({_EVENT}
), done AS (
    UPDATE {TASK} SET status = 'success', result = %(result)s, finished_at = %(now)s
    WHERE id = %(done)s AND EXISTS (SELECT 1 FROM job)
), listing AS (
    INSERT INTO {LISTING} AS l (product_id, marketplace, status, external_id, url, data,
        created_at, updated_at)
    SELECT product_id, %(marketplace)s, %(listing_status)s, coalesce(%(external_id)s, ''),
        coalesce(%(url)s, ''), %(listing_data)s::jsonb, %(now)s, %(now)s
    FROM job WHERE %(listing)s AND product_id IS NOT NULL
    ON CONFLICT (product_id, marketplace) DO UPDATE SET status = EXCLUDED.status,
        external_id = coalesce(%(external_id)s, l.external_id),
        url = coalesce(%(url)s, l.url), data = l.data || EXCLUDED.data,
        updated_at = EXCLUDED.updated_at
), batch AS (
    UPDATE {BATCH} AS b SET {BATCH_COUNTERS_SET}
    WHERE b.id = (SELECT batch_id FROM job)
)
SELECT id FROM job
"""


def complete_params() -> dict[str, object]:
    return {
        "sources": transition_sources("complete"),
        "to": transition_target("complete"),
        "from": transition_sources("complete")[0],
        # the counter deltas of running → completed
        "d_completed_count": 1,
        "d_failed_count": 0,
        "d_cancelled_count": 0,
        "d_expired_count": 0,
        "started": False,
    }


TOP_UP = f"""
UPDATE {JOB} SET dispatched_at = %(now)s
WHERE id IN (
    SELECT id FROM {JOB}
    WHERE marketplace = %(marketplace)s AND status = '{JobStatus.PENDING.value}'
      AND (next_attempt_at IS NULL OR next_attempt_at <= %(now)s) AND id <> ALL(%(exclude)s)
    ORDER BY priority, id LIMIT %(free)s
    FOR UPDATE SKIP LOCKED
)
RETURNING id, marketplace, priority, next_attempt_at
"""
"""The tenant's oldest due pending jobs of a marketplace (priority first), at most %(free)s, not
in the trigger window, stamped as dispatched: what `dispatch.jobs_top_up` sends next. One
statement (it was a SELECT and an UPDATE); SKIP LOCKED so two workers topping up at once
take different jobs instead of the same ones twice. The status is written in, not a parameter:
the function's generic plan (routines) can then use the partial index of pending jobs."""
