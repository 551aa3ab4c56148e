from typing import Any, cast

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import viewsets
from rest_framework.serializers import BaseSerializer

from core.api.schema import errors
from marketplace import selectors
from marketplace.api.filters import ProductFilter
from marketplace.api.serializers.products import ProductSerializer
from marketplace.models import Product
from marketplace.services import products as product_services


@extend_schema_view(
    list=extend_schema(summary="List products, newest first (cursor pagination)."),
    update=extend_schema(responses={200: ProductSerializer, **errors(409)}),
    partial_update=extend_schema(responses={200: ProductSerializer, **errors(409)}),
    destroy=extend_schema(
        summary="Delete a product; refused (409) while one of its jobs may still run.",
        responses={204: None, **errors(409)},
    ),
)
class ProductViewSet(viewsets.ModelViewSet):
    serializer_class = ProductSerializer
    filterset_class = ProductFilter
    lookup_value_regex = r"\d+"

    def get_queryset(self) -> QuerySet[Product]:
        return selectors.product_list()

    def perform_create(self, serializer: BaseSerializer[Product]) -> None:
        data: dict[str, Any] = dict(serializer.validated_data)
        images = data.pop("images", [])
        serializer.instance = product_services.product_create(**data, image_urls=images)

    def perform_update(self, serializer: BaseSerializer[Product]) -> None:
        data: dict[str, Any] = dict(serializer.validated_data)
        images = data.pop("images", None)
        serializer.instance = product_services.product_update(
            product=cast(Product, serializer.instance), data=data, image_urls=images
        )

    def perform_destroy(self, instance: Product) -> None:
        product_services.product_delete(product=instance)
