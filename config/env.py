"""The single environment reader; every setting that varies per deployment goes through it."""

import os
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# A developer's .env is optional; CI and production use real environment variables.
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)
# `python -m demo` writes var/demo.env (its database and Redis URLs) so that manage.py, with the
# local settings, works against the demo without flags. Only the local settings read it, and only
# for what the environment and .env leave unset: tests and production never see it.
if os.environ.get("DJANGO_SETTINGS_MODULE", "config.settings.local") == "config.settings.local":
    environ.Env.read_env(BASE_DIR / "var" / "demo.env", overwrite=False)
