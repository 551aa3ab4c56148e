from django.apps import AppConfig


class CatalogueConfig(AppConfig):
    """The public catalogue of marketplace action types, shared by every tenant."""

    name = "marketplace.catalogue"
    label = "catalogue"
