"""django-tenants: https://django-tenants.readthedocs.io/en/latest/install.html"""

TENANT_MODEL = "tenants.Tenant"
TENANT_DOMAIN_MODEL = "tenants.Domain"
PUBLIC_SCHEMA_NAME = "public"
# Unknown hosts are answered by our middleware with a JSON error, never the public site.
SHOW_PUBLIC_IF_NO_TENANT_FOUND = False
# The suffix appended to a tenant's slug to build its default domain (shop1 -> shop1.localhost).
from config.env import env  # noqa: E402

RELIST_TENANT_DOMAIN_SUFFIX = env("RELIST_TENANT_DOMAIN_SUFFIX", default="localhost")
RELIST_PUBLIC_DOMAINS = env.list("RELIST_PUBLIC_DOMAINS", default=["localhost", "127.0.0.1"])
# Read by django-tenants' own backend only. Relist's backend (tenants/db/backend) never sets a
# session search_path: it travels with each transaction as SET LOCAL, so a transaction pooler
# (pgbouncer) can sit in front. Kept True so django-tenants never sends a session SET itself.
# https://django-tenants.readthedocs.io/en/latest/install.html#optional-settings
TENANT_LIMIT_SET_CALLS = True

# Provisioning clones this template schema (kept current by `manage.py migrate_tenants`) instead
# of running every migration for each new tenant. docs/tenants.md
RELIST_TENANT_TEMPLATE_SCHEMA = env("RELIST_TENANT_TEMPLATE_SCHEMA", default="relist_template")
# pg_dump of the server's major version (or newer); needed where the template is refreshed.
RELIST_PG_DUMP = env("RELIST_PG_DUMP", default="pg_dump")
# How long provisioning waits for a running `migrate_tenants` (and the reverse) before refusing.
RELIST_TENANT_LOCK_TIMEOUT_S = env.float("RELIST_TENANT_LOCK_TIMEOUT_S", default=30.0)
# Worker processes of `migrate_tenants` (each holds one database connection).
RELIST_MIGRATE_PROCESSES = env.int("RELIST_MIGRATE_PROCESSES", default=2)
# Schemas cloned ahead of time for provisioning to rename (milliseconds instead of a clone);
# refilled by `migrate_tenants` and `manage.py fill_spare_schemas` (cron / beat). 0: off.
RELIST_TENANT_SPARE_SCHEMAS = env.int("RELIST_TENANT_SPARE_SCHEMAS", default=10)

# --- several databases (docs/tenants.md#several-databases); extra aliases: base.py ---
# psql of the servers' major version (or newer): `tenant_move` pipes pg_dump into it.
RELIST_PSQL = env("RELIST_PSQL", default="psql")
# A task of a tenant being moved is sent again after this many seconds (no attempt is used).
RELIST_TENANT_MOVE_DEFER_S = env.float("RELIST_TENANT_MOVE_DEFER_S", default=15.0)
# How long `tenant_move` waits for the tenant's running jobs to end before giving up (the tenant
# is then left as it was, its maintenance flag cleared).
RELIST_TENANT_MOVE_DRAIN_S = env.float("RELIST_TENANT_MOVE_DRAIN_S", default=300.0)
