from django.apps import AppConfig
from django.db.models.signals import post_migrate


class EngineConfig(AppConfig):
    """A shared (public-schema) app: it owns the index of tenants with due work, and the hot
    path's functions in `public` (routines)."""

    name = "marketplace.engine"
    label = "engine"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from marketplace.engine import routines  # noqa: PLC0415 - apps are loading

        # The hot path's functions exist as soon as a database is migrated.
        post_migrate.connect(
            routines.after_migrate, sender=self, dispatch_uid="relist.engine.routines"
        )
