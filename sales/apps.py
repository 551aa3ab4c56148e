from django.apps import AppConfig


class SalesConfig(AppConfig):
    """Sale detection, stock and auto-delist: what happens when an item sells somewhere."""

    name = "sales"
