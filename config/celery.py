"""The Celery app. tenant-schemas-celery carries the active schema in every message header and
switches the worker's connection to it before the task runs:
https://github.com/maciej-gol/tenant-schemas-celery"""

import os

from tenant_schemas_celery.app import CeleryApp

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = CeleryApp("relist")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
