"""Project wiring: settings, URLs, ASGI and the Celery app. No business logic lives here."""

from config.celery import app as celery_app

__all__ = ("celery_app",)
