from django.apps import AppConfig
from django.core.signals import request_finished


class CoreConfig(AppConfig):
    name = "core"

    def ready(self) -> None:
        from core.logging import request_context_clear  # noqa: PLC0415 - apps are loading

        # The request's log context lasts until its response is finished (see core.logging).
        request_finished.connect(request_context_clear, dispatch_uid="relist.request_context")
