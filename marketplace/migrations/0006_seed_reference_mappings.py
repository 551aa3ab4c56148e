"""Seed each shop's mappings with the reference data (marketplace.reference_data): runs in
every tenant schema at provisioning, and in existing shops once."""

from django.db import migrations

from marketplace import reference_data


def seed(apps, schema_editor):
    reference_data.seed(
        category_model=apps.get_model("marketplace", "Category"),
        category_mapping_model=apps.get_model("marketplace", "CategoryMapping"),
        value_mapping_model=apps.get_model("marketplace", "ValueMapping"),
    )


class Migration(migrations.Migration):
    dependencies = [("marketplace", "0005_canonical_product_and_mappings")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
