"""Django REST framework and drf-spectacular."""

from config.env import env

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["core.api.permissions.IsTenantMember"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "core.api.pagination.JobCursorPagination",
    "PAGE_SIZE": 50,
    # JSON only: the browsable API would answer browsers (and their errors) in HTML; the docs UI
    # at /api/docs/ replaces it.
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "core.api.exception_handler.api_exception_handler",
}

# https://drf-spectacular.readthedocs.io/en/latest/settings.html
SPECTACULAR_SETTINGS = {
    "TITLE": "Relist API",
    "DESCRIPTION": (
        "Publish, update, delete and sync listings on Vinted, eBay and Etsy.\n\n"
        "Every endpoint is served on the shop's own host and needs `Authorization: Token …` of "
        "a member of that shop; anyone else gets 404. Errors always have the shape "
        '`{"error": {"code", "message", "details"}}`.'
    ),
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
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
