"""The single environment reader; every setting that varies per deployment goes through it."""

from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# A developer's .env is optional; CI and production use real environment variables.
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)
