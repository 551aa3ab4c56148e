"""Celery: https://docs.celeryq.dev/en/stable/userguide/configuration.html

Job state lives in PostgreSQL; messages are only triggers. Queues come from one Enum
(core.queues.CeleryQueue); routing is decided per job by marketplace and priority band.
"""

from config.env import env

CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="redis://127.0.0.1:6379/2")
# kombu's Redis transport reusing one client per connection pool (config/broker.py); other
# schemes (rediss://, sentinel://) keep kombu's own.
if CELERY_BROKER_URL.startswith("redis://"):
    CELERY_BROKER_TRANSPORT = "config.broker:Transport"
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=600)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=660)
# Redis redelivers any unacknowledged message older than this; retry countdowns stay well under.
# https://docs.celeryq.dev/en/stable/getting-started/backends-and-brokers/redis.html#visibility-timeout
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", 3600)}
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

# The engine's clocks (marketplace/engine, docs/engine.md). Everything derives from the sweep
# interval: a lost trigger is re-sent within two intervals once its queue has drained.
RELIST_SWEEP_INTERVAL_S = env.float("RELIST_SWEEP_INTERVAL_S", default=60.0)
# A pending job whose queue still holds messages is only re-sent after this long (a healthy
# backlog is never duplicated); also the wait of jobs parked for the Vinted extension.
RELIST_BACKLOG_LOST_AFTER_S = env.float(
    "RELIST_BACKLOG_LOST_AFTER_S", default=15 * RELIST_SWEEP_INTERVAL_S
)
# ctx.heartbeat() inside a long step writes at most this often.
RELIST_HEARTBEAT_EVERY_S = env.float("RELIST_HEARTBEAT_EVERY_S", default=5.0)
# Each worker process keeps a Redis key alive this often; a process silent for three periods is
# dead and its running jobs are recovered by the next sweep (engine/liveness.py).
RELIST_WORKER_ALIVE_EVERY_S = env.float("RELIST_WORKER_ALIVE_EVERY_S", default=2.0)
# A job's total runs are bounded by max_retries × this + 1 (each step has max_retries of its own).
RELIST_JOB_ATTEMPTS_FACTOR = env.int("RELIST_JOB_ATTEMPTS_FACTOR", default=3)

# Fairness (docs/engine.md "Fairness"): worker slots one tenant holds at once per marketplace; a
# claim beyond them is put back (trigger re-sent after RELIST_TENANT_SLOT_RETRY_S, no attempt
# used, nothing written). High-band jobs one tenant may have open per marketplace; the rest of
# its priority 1-2 jobs go to the normal band.
RELIST_TENANT_SLOTS_PER_MARKETPLACE = env.int("RELIST_TENANT_SLOTS_PER_MARKETPLACE", default=4)
# Vinted runs one command at a time per shop (one logged-in browser): a second slot would only
# bounce off the shop's turn (a 5 s deferral each time), so one job at a time per shop.
RELIST_TENANT_SLOTS_VINTED = env.int("RELIST_TENANT_SLOTS_VINTED", default=1)
RELIST_TENANT_SLOT_RETRY_S = env.float("RELIST_TENANT_SLOT_RETRY_S", default=1.0)
RELIST_TENANT_HIGH_MAX = env.int("RELIST_TENANT_HIGH_MAX", default=5)
# Triggers of one tenant in flight per marketplace: the rest of a batch waits in PostgreSQL and
# is released as the tenant's own jobs finish (and by the sweep), so a 10,000-job batch never
# sits in the queue ahead of other tenants. 0 (the default): the marketplace's slots. A wider
# window queues triggers that the slot cap then bounces (measured: 2 x slots spread 20
# tenants' throughput by 1.67).
RELIST_TENANT_TRIGGER_WINDOW = env.int("RELIST_TENANT_TRIGGER_WINDOW", default=0)
# Hand-over (docs/engine.md): a thread that finishes one of a tenant's jobs while others of the
# tenant's jobs on that marketplace are held back runs the next one itself, with the worker slot
# it holds, instead of publishing its trigger; for at most this long per message, then it goes
# back to the queue (other tenants' triggers, the high band). 0 turns hand-over off.
RELIST_ENGINE_HAND_OVER_S = env.float("RELIST_ENGINE_HAND_OVER_S", default=2.0)

# Beat: every sweep interval, visit the tenants of the due-work index (PostgreSQL, public
# schema): expire, recover, re-dispatch. Entries expire so a backlog of sweeps never piles up.
CELERY_BEAT_SCHEDULE = {
    # Sale detection: due (tenant, marketplace) rows of the public schedule index only.
    "sales-sync-due": {
        "task": "sales.sync_due",
        "schedule": env.float("RELIST_SALE_SYNC_POLL_S", default=15.0),
        "options": {"queue": "maintenance", "expires": 14},
    },
    # Spare tenant schemas, cloned ahead of time so provisioning is a rename (docs/tenants.md).
    "fill-spare-schemas": {
        "task": "tenants.fill_spare_schemas",
        "schedule": 60.0,
        "options": {"queue": "maintenance", "expires": 50},
    },
    "sweep-tenants-with-work": {
        "task": "marketplace.sweep",
        "schedule": RELIST_SWEEP_INTERVAL_S,
        "options": {"queue": "maintenance", "expires": max(RELIST_SWEEP_INTERVAL_S - 5, 1)},
    },
}

# tenant-schemas-celery looks the tenant up on every task unless cached (seconds).
CELERY_TASK_TENANT_CACHE_SECONDS = env.int("CELERY_TASK_TENANT_CACHE_SECONDS", default=60)
