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
# Send `SET search_path` only when the schema changes, not before every query (it doubled the
# round trips). Safe because connections are not shared through a transaction-pooling proxy.
# https://django-tenants.readthedocs.io/en/latest/install.html#optional-settings
TENANT_LIMIT_SET_CALLS = True
