"""Django REST framework, drf-spectacular, authentication, throttles, CORS, static files."""

from datetime import timedelta

from config.env import env

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "tenants.auth.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["core.api.permissions.IsTenantMember"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "core.api.pagination.JobCursorPagination",
    "PAGE_SIZE": 50,
    # JSON only: the browsable API would answer browsers (and their errors) in HTML; the docs UI
    # at /api/docs/ replaces it.
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["core.api.parsers.SafeJSONParser"],
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "core.api.exception_handler.api_exception_handler",
    # Per user and per client IP, counted in the shared Redis (every web worker sees the same
    # counts; core/api/throttling.py). The login and failed-token scopes are stricter and apply
    # on top (tenants/api/auth_views.py, tenants/auth.py). Over a rate: 429 with Retry-After.
    # https://www.django-rest-framework.org/api-guide/throttling/
    "DEFAULT_THROTTLE_CLASSES": ["core.api.throttling.ClientRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "user": env("RELIST_THROTTLE_USER", default="1200/min"),
        "ip": env("RELIST_THROTTLE_IP", default="2400/min"),
        "login": env("RELIST_THROTTLE_LOGIN", default="10/min"),
        "auth_failure": env("RELIST_THROTTLE_AUTH_FAILURE", default="20/min"),
    },
    # Proxies in front of the app (0: trust REMOTE_ADDR only, so X-Forwarded-For cannot be
    # forged to dodge the per-IP throttles).
    "NUM_PROXIES": env.int("RELIST_NUM_PROXIES", default=0),
}

# The shared cache: throttle counters, django-axes' failure counts, the token lookup cache.
# https://docs.djangoproject.com/en/5.2/topics/cache/#redis
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": env("REDIS_URL", default="redis://127.0.0.1:6379/0"),
        "KEY_PREFIX": "relist",
    }
}

# API tokens (tenants/auth.py): lifetime of a token from login, and how long a token's lookup
# (user and memberships) is cached; a revoked token is dropped from the cache at once, a changed
# membership is seen after at most this long (0: no cache).
RELIST_API_TOKEN_TTL_S = env.int("RELIST_API_TOKEN_TTL_S", default=30 * 24 * 3600)
RELIST_AUTH_CACHE_TTL_S = env.int("RELIST_AUTH_CACHE_TTL_S", default=30)
# The job list's page is read with this random_page_cost (SET LOCAL, its own transaction):
# marketplace.selectors.job_list_planner_costs says why. 0: the server's own setting.
RELIST_JOB_LIST_RANDOM_PAGE_COST = env.float("RELIST_JOB_LIST_RANDOM_PAGE_COST", default=1.1)
# How long a web process remembers which tenant a host serves (tenants/middleware.py; 0: never).
RELIST_TENANT_CACHE_TTL_S = env.int("RELIST_TENANT_CACHE_TTL_S", default=5)

# django-axes: the admin login (and the API login, which calls authenticate()) locks a username
# from an IP after AXES_FAILURE_LIMIT failures, for AXES_COOLOFF_TIME; counts in the cache.
# https://django-axes.readthedocs.io/en/latest/4_configuration.html
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_HANDLER = "axes.handlers.cache.AxesCacheHandler"
AXES_FAILURE_LIMIT = env.int("RELIST_LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(seconds=env.int("RELIST_LOGIN_LOCKOUT_S", default=900))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "tenants.auth.lockout_response"
AXES_VERBOSE = False
AXES_ENABLE_ADMIN = False  # counts live in the cache: the admin's attempt tables stay empty

# CORS for a frontend served from another origin (tokens travel in the Authorization header, not
# in cookies, so no credentials). https://github.com/adamchainz/django-cors-headers
CORS_ALLOWED_ORIGINS = env.list("RELIST_CORS_ALLOWED_ORIGINS", default=[])
CORS_ALLOWED_ORIGIN_REGEXES = env.list("RELIST_CORS_ALLOWED_ORIGIN_REGEXES", default=[])
CORS_URLS_REGEX = r"^/api/.*$"
CORS_ALLOW_HEADERS = ("accept", "authorization", "content-type", "idempotency-key")
CORS_EXPOSE_HEADERS = ("Retry-After",)

# Static files (the admin's, the docs UI's) served by the app servers themselves, from the apps'
# own folders unless collected (`manage.py collectstatic` then RELIST_STATIC_USE_FINDERS=false).
# https://whitenoise.readthedocs.io/en/stable/django.html
WHITENOISE_USE_FINDERS = env.bool("RELIST_STATIC_USE_FINDERS", default=True)

# https://drf-spectacular.readthedocs.io/en/latest/settings.html
SPECTACULAR_SETTINGS = {
    "TITLE": "Relist API",
    "DESCRIPTION": (
        "Publish, update, delete and sync listings on Vinted, eBay and Etsy.\n\n"
        "Every endpoint is served on the shop's own host and needs `Authorization: Bearer "
        "<token>` of a member of that shop (`Token <token>` is accepted too); anyone else gets "
        "404. Get a token with `POST /api/auth/login/` (one per device, expiring; list them at "
        "`/api/auth/tokens/`, revoke with `DELETE`, log out with `POST /api/auth/logout/`). "
        "Too many requests answer 429 with `Retry-After`. Errors always have the shape "
        '`{"error": {"code", "message", "details"}}`.'
    ),
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI from drf-spectacular-sidecar's pinned copy: the docs work offline, no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,  # read-only fields stay out of request bodies
    "ENUM_NAME_OVERRIDES": {
        "JobStatusEnum": "marketplace.states.JobStatus",
        "BatchStatusEnum": "batches.states.BatchStatus",
        "MarketplaceEnum": "marketplace.states.Marketplace",
        "ConnectionStatusEnum": "marketplace.models.connections.ConnectionStatus",
        "TaskStatusEnum": "marketplace.states.TaskStatus",
        "JobPriorityEnum": "marketplace.states.JobPriority",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "core.api.schema.add_error_responses",
        "core.api.schema.add_links",
    ],
}

# Where eBay and Etsy send the user back after consent. Empty: this API's own callback on the
# shop's host (/api/connections/<marketplace>/callback/). eBay wants its RuName here in
# production: https://developer.ebay.com/api-docs/static/oauth-redirect-uri.html; Etsy a URL
# registered with the app: https://developers.etsy.com/documentation/essentials/authentication
EBAY_OAUTH_REDIRECT_URI = env("EBAY_OAUTH_REDIRECT_URI", default="")
ETSY_OAUTH_REDIRECT_URI = env("ETSY_OAUTH_REDIRECT_URI", default="")
# How long a started consent may take before its state is refused (seconds).
RELIST_OAUTH_STATE_MAX_AGE_S = env.int("RELIST_OAUTH_STATE_MAX_AGE_S", default=600)
