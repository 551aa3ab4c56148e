"""Seed the catalogue: every marketplace gets publish, update, delete, sync_listings and
sync_orders; Etsy also gets its shop actions. Step timeouts follow the marketplaces' observed
latencies (MARKETPLACES.md: Vinted delete 30 s, other calls 60 s)."""

from datetime import timedelta

from django.db import migrations

COMMON = [
    ("publish", "Publish", 3, timedelta(seconds=60)),
    ("update", "Update", 3, timedelta(seconds=60)),
    ("delete", "Delete", 3, timedelta(seconds=30)),
    ("sync_listings", "Sync listings", 4, timedelta(seconds=60)),
    ("sync_orders", "Sync orders", 4, timedelta(seconds=60)),
]
EXTRAS = {
    "etsy": [
        ("get_shop", "Get shop", 3, timedelta(seconds=30)),
        ("update_shop", "Update shop", 3, timedelta(seconds=30)),
    ],
}
MARKETPLACES = ("vinted", "ebay", "etsy")


def seed(apps, schema_editor):
    action_type = apps.get_model("catalogue", "MarketplaceActionType")
    for marketplace in MARKETPLACES:
        for code, name, priority, step_timeout in COMMON + EXTRAS.get(marketplace, []):
            action_type.objects.update_or_create(
                marketplace=marketplace,
                code=code,
                defaults={
                    "name": name,
                    "default_priority": priority,
                    "max_retries": 3,
                    "expiry": timedelta(hours=1),
                    "step_timeout": step_timeout,
                },
            )


def unseed(apps, schema_editor):
    apps.get_model("catalogue", "MarketplaceActionType").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [("catalogue", "0001_initial")]

    operations = [migrations.RunPython(seed, unseed)]
