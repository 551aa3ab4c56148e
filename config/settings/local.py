"""Developer and demo settings: safe defaults so a fresh clone runs with no .env."""

import os

os.environ.setdefault("DJANGO_SECRET_KEY", "dev-insecure-secret-key-change-me")
# A fixed development key; production must set RELIST_FIELD_ENCRYPTION_KEYS.
os.environ.setdefault(
    "RELIST_FIELD_ENCRYPTION_KEYS", "tRHJ2CwG0l3oKfBNGyKzUy8OeVoV6e4Cl6Z6B6GdkhM="
)
os.environ.setdefault("DJANGO_DEBUG", "true")
os.environ.setdefault("LOG_FORMAT", "console")

from config.settings.base import *  # noqa: F403
