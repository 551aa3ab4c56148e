"""Marketplace endpoints and budgets. Only the base URLs differ between the sandboxes and the
real services: https://developer.ebay.com/api-docs/static/gs_ebay-rest-getting-started-landing.html,
https://developers.etsy.com/documentation/."""

from config.env import env

EBAY_API_BASE_URL = env("EBAY_API_BASE_URL", default="https://api.ebay.com")
EBAY_AUTH_BASE_URL = env("EBAY_AUTH_BASE_URL", default="https://auth.ebay.com")
EBAY_CLIENT_ID = env("EBAY_CLIENT_ID", default="relist-sandbox-client")
EBAY_CLIENT_SECRET = env("EBAY_CLIENT_SECRET", default="relist-sandbox-secret")
EBAY_MARKETPLACE_ID = env("EBAY_MARKETPLACE_ID", default="EBAY_US")
EBAY_CONTENT_LANGUAGE = env("EBAY_CONTENT_LANGUAGE", default="en-US")

ETSY_API_BASE_URL = env("ETSY_API_BASE_URL", default="https://openapi.etsy.com/v3")
ETSY_TOKEN_URL = env("ETSY_TOKEN_URL", default="https://api.etsy.com/v3/public/oauth/token")
ETSY_CONNECT_URL = env("ETSY_CONNECT_URL", default="https://www.etsy.com/oauth/connect")
ETSY_API_KEY = env("ETSY_API_KEY", default="relist-sandbox-keystring")

# Per-call timeouts: (connect, read) seconds for requests.
MARKETPLACE_HTTP_TIMEOUT = (
    env.float("MARKETPLACE_CONNECT_TIMEOUT", default=5.0),
    env.float("MARKETPLACE_READ_TIMEOUT", default=30.0),
)

# Budgets (token buckets shared through Redis). Etsy: 10 req/s and 10,000/day per app.
# https://developers.etsy.com/documentation/essentials/rate-limits
MARKETPLACE_RATE_LIMITS = {
    "ebay": {"per_second": env.float("EBAY_RATE_PER_SECOND", default=25.0), "burst": 50},
    "etsy": {
        "per_second": env.float("ETSY_RATE_PER_SECOND", default=10.0),
        "burst": 10,
        "per_day": env.int("ETSY_RATE_PER_DAY", default=10_000),
    },
}

# Vinted anti-bot pacing between two commands of one extension (seconds).
VINTED_MIN_SPACING_S = env.float("VINTED_MIN_SPACING_S", default=1.0)
VINTED_SPACING_JITTER_S = env.float("VINTED_SPACING_JITTER_S", default=1.5)
VINTED_ACK_TIMEOUT_S = env.float("VINTED_ACK_TIMEOUT_S", default=5.0)

# Retry backoff: uniform(0, min(cap, scale * 2**attempts)) seconds, full jitter:
# https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/
RELIST_RETRY_BACKOFF_SCALE_S = env.float("RELIST_RETRY_BACKOFF_SCALE_S", default=1.0)
RELIST_RETRY_BACKOFF_CAP_S = env.float("RELIST_RETRY_BACKOFF_CAP_S", default=600.0)
# A read (GET) that meets a transient error is repeated inline, this many times, after
# uniform(0, min(RELIST_SAFE_CALL_BACKOFF_CAP_S, 0.2 * 2**n)) s: each call gets its own attempts,
# so a reconciliation lookup does not spend the budget of the write it protects.
RELIST_SAFE_CALL_RETRIES = env.int("RELIST_SAFE_CALL_RETRIES", default=3)
RELIST_SAFE_CALL_BACKOFF_CAP_S = env.float("RELIST_SAFE_CALL_BACKOFF_CAP_S", default=2.0)
# A running job whose heartbeat is older than this lost its worker (beat recovers it).
RELIST_STALE_HEARTBEAT_S = env.float("RELIST_STALE_HEARTBEAT_S", default=120.0)

# eBay Marketplace Account Deletion notifications (required of every production keyset):
# https://developer.ebay.com/marketplace-account-deletion. The verification token (32-80 chars)
# is the one entered in the developer portal; the endpoint URL must be byte-for-byte the one
# registered there (the challenge hash covers it), else the URL the request arrived at is used.
EBAY_DELETION_VERIFICATION_TOKEN = env("EBAY_DELETION_VERIFICATION_TOKEN", default="")
EBAY_DELETION_ENDPOINT_URL = env("EBAY_DELETION_ENDPOINT_URL", default="")
