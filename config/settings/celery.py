"""Celery: https://docs.celeryq.dev/en/stable/userguide/configuration.html

Job state lives in PostgreSQL; messages are only triggers. Queues come from one Enum
(core.queues.CeleryQueue); routing is decided per job by marketplace and priority band.
"""

from config.env import env

CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="redis://127.0.0.1:6379/2")
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

# Beat: every minute, per tenant with work, expire, recover and re-dispatch; a full pass over
# every tenant every 30 minutes rebuilds the "tenants with work" set. Entries expire so a backlog
# of sweeps never piles up behind a slow one.
CELERY_BEAT_SCHEDULE = {
    # Sale detection: due (tenant, marketplace) rows of the public schedule index only.
    "sales-sync-due": {
        "task": "sales.sync_due",
        "schedule": env.float("RELIST_SALE_SYNC_POLL_S", default=15.0),
        "options": {"queue": "maintenance", "expires": 14},
    },
    "sweep-tenants-with-work": {
        "task": "marketplace.sweep",
        "schedule": env.float("RELIST_SWEEP_INTERVAL_S", default=60.0),
        "options": {"queue": "maintenance", "expires": 50},
    },
    "sweep-all-tenants": {
        "task": "marketplace.sweep",
        "schedule": 1800.0,
        "kwargs": {"full": True},
        "options": {"queue": "maintenance", "expires": 1700},
    },
}

# tenant-schemas-celery looks the tenant up on every task unless cached (seconds).
CELERY_TASK_TENANT_CACHE_SECONDS = env.int("CELERY_TASK_TENANT_CACHE_SECONDS", default=60)
