"""Test overrides only: the same real PostgreSQL, Redis and channel layer as production."""

import os

os.environ.setdefault("DJANGO_SECRET_KEY", "test-secret-key")
os.environ.setdefault(
    "RELIST_FIELD_ENCRYPTION_KEYS", "tRHJ2CwG0l3oKfBNGyKzUy8OeVoV6e4Cl6Z6B6GdkhM="
)
# Separate Redis databases so a test run never drains a developer's demo queues.
os.environ.setdefault("CELERY_BROKER_URL", "redis://127.0.0.1:6379/12")
os.environ.setdefault("CHANNELS_REDIS_URL", "redis://127.0.0.1:6379/13")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/14")
# Anti-bot pacing off by default in tests (the pacing tests set it themselves).
os.environ.setdefault("VINTED_MIN_SPACING_S", "0")
os.environ.setdefault("VINTED_SPACING_JITTER_S", "0")
os.environ.setdefault("VINTED_ACK_TIMEOUT_S", "2")
# Throttles relaxed and the token lookup uncached by default: tests share one cache and change
# memberships between requests; the tests of throttles and of the cache set them themselves.
os.environ.setdefault("RELIST_THROTTLE_USER", "100000/min")
os.environ.setdefault("RELIST_THROTTLE_IP", "100000/min")
os.environ.setdefault("RELIST_THROTTLE_LOGIN", "100000/min")
os.environ.setdefault("RELIST_THROTTLE_AUTH_FAILURE", "100000/min")
os.environ.setdefault("RELIST_AUTH_CACHE_TTL_S", "0")
os.environ.setdefault("RELIST_TENANT_CACHE_TTL_S", "0")
os.environ.setdefault("LOG_FORMAT", "console")
# The per-tenant trigger window lives in Redis, which tests do not empty between them: wide open
# by default (every enqueue sends, as tests expect); tests/integration/test_fairness.py sets it.
os.environ.setdefault("RELIST_TENANT_TRIGGER_WINDOW", "1000000")

from config.settings.base import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # speed only
