from django.apps import AppConfig


class EngineConfig(AppConfig):
    """A shared (public-schema) app: it owns the index of tenants with due work."""

    name = "marketplace.engine"
    label = "engine"
    default_auto_field = "django.db.models.BigAutoField"
