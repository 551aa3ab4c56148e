"""Settings shared by every environment; topic modules are imported at the bottom.

Local service URLs default to loopback so a fresh clone runs; production secrets have no default.
"""

from urllib.parse import unquote

from config.env import BASE_DIR, env
from core.logging import logging_config

DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env("DJANGO_SECRET_KEY")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=[".localhost", "127.0.0.1", "localhost"])

# https://django-tenants.readthedocs.io/en/latest/install.html
SHARED_APPS = [
    "django_tenants",
    "tenants",
    "marketplace.catalogue",
    "sales.schedule",
    "marketplace.engine",
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.admin",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "corsheaders",
    "axes",
    "channels",
    "core",
]
TENANT_APPS = [
    "django.contrib.contenttypes",
    "marketplace",
    "batches",
    "sales",
]
INSTALLED_APPS = list(SHARED_APPS) + [app for app in TENANT_APPS if app not in SHARED_APPS]

MIDDLEWARE = [
    # First: sees every response, so nothing under /api/ answers HTML (core/api/middleware.py).
    "core.api.middleware.ApiErrorShapeMiddleware",
    # Static files and CORS preflights need no tenant (and no query).
    "core.api.static.StaticFilesMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "tenants.middleware.TenantResolutionMiddleware",
    "core.logging.RequestContextMiddleware",  # request id and tenant on every line it logs
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",  # answers a locked-out login (tenants.auth.lockout_response)
]

ROOT_URLCONF = "config.urls"
PUBLIC_SCHEMA_URLCONF = "config.urls_public"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]


def database_settings(url: str) -> dict:
    """One PostgreSQL database of Relist's, from its URL: the primary and every extra tenant
    database get the same backend and connection policy."""
    config = {
        **env.db_url_config(url),
        # django-tenants' backend with a transaction-scoped search_path, so a transaction
        # pooler (pgbouncer, pool_mode = transaction) can sit in front: docs/operations.md.
        "ENGINE": "tenants.db.backend",
        # Workers hold their client connection between tasks; 60 s keeps it without hoarding.
        # Behind pgbouncer a held client connection holds no server connection while idle.
        "CONN_MAX_AGE": env.int("DATABASE_CONN_MAX_AGE", default=60),
        "CONN_HEALTH_CHECKS": True,
        # Server-side cursors cannot outlive a pooled transaction (the backend enforces it).
        "DISABLE_SERVER_SIDE_CURSORS": True,
    }
    # A unix-socket directory arrives URL-encoded in the host (postgres://user@%2Fpath/db).
    config["HOST"] = unquote(config.get("HOST") or "")
    return config


DATABASES = {
    "default": database_settings(
        env("DATABASE_URL", default="postgres://postgres@127.0.0.1:5432/relist")
    )
}
# Extra databases holding tenant schemas, "alias=url,alias=url"; a tenant's row names its alias
# (public data stays on `default`). When to add one: docs/tenants.md#several-databases
RELIST_TENANT_DATABASES = env.dict("RELIST_TENANT_DATABASES", default={})
for _alias, _url in RELIST_TENANT_DATABASES.items():
    DATABASES[_alias] = database_settings(_url)
# Ours first: primary-only models to the primary, the rest to the active tenant's database
# (tenants/db/router.py); django-tenants' decides what migrates where.
DATABASE_ROUTERS = (
    "tenants.db.router.TenantDatabaseRouter",
    "django_tenants.routers.TenantSyncRouter",
)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "var" / "static"

REDIS_URL = env("REDIS_URL", default="redis://127.0.0.1:6379/0")

# Keys for Fernet encryption of marketplace tokens; the first encrypts, all decrypt (rotation).
FIELD_ENCRYPTION_KEYS = env.list("RELIST_FIELD_ENCRYPTION_KEYS")

# Structured logs (core/logging.py): LOG_FORMAT=json for log pipelines (the default, and
# production's), console for people (local and test settings default to it).
LOGGING = logging_config(
    log_format=env("LOG_FORMAT", default="json"),
    level=env("LOG_LEVEL", default="INFO"),
    celery_tasks=env("LOG_CELERY_TASKS", default="WARNING"),
)

from config.settings.api import *  # noqa: E402, F403
from config.settings.celery import *  # noqa: E402, F403
from config.settings.channels import *  # noqa: E402, F403
from config.settings.marketplaces import *  # noqa: E402, F403
from config.settings.sales import *  # noqa: E402, F403
from config.settings.tenants import *  # noqa: E402, F403
