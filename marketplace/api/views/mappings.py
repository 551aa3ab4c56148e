"""The shop's canonical categories and their translations into each marketplace's ids.
Plain row edits: uniqueness is validated by the serializers (one mapping per category and
marketplace, per kind, value and marketplace)."""

from django.db.models import ProtectedError, QuerySet
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import viewsets

from core.api.schema import errors
from core.errors import Conflict
from marketplace.api.serializers.mappings import (
    CategoryMappingSerializer,
    CategorySerializer,
    ValueMappingSerializer,
)
from marketplace.models import AttributeKind, Category, CategoryMapping, ValueMapping
from marketplace.states import Marketplace


class CategoryMappingFilter(filters.FilterSet):
    category = filters.CharFilter(field_name="category__code", help_text="A category code.")
    marketplace = filters.ChoiceFilter(choices=Marketplace.choices)

    class Meta:
        model = CategoryMapping
        fields = ("category", "marketplace")


class ValueMappingFilter(filters.FilterSet):
    kind = filters.ChoiceFilter(choices=AttributeKind.choices)
    value = filters.CharFilter(lookup_expr="iexact")
    marketplace = filters.ChoiceFilter(choices=Marketplace.choices)

    class Meta:
        model = ValueMapping
        fields = ("kind", "value", "marketplace")


@extend_schema_view(
    list=extend_schema(summary="The shop's canonical categories."),
    destroy=extend_schema(
        summary="Delete a category; refused (409) while products use it.",
        responses={204: None, **errors(409)},
    ),
)
class CategoryViewSet(viewsets.ModelViewSet):
    serializer_class = CategorySerializer
    lookup_field = "code"
    lookup_value_regex = r"[-a-zA-Z0-9_]+"
    pagination_class = None  # a shop's vocabulary: tens of rows

    def get_queryset(self) -> QuerySet[Category]:
        return Category.objects.order_by("code")

    def perform_destroy(self, instance: Category) -> None:
        try:
            instance.delete()
        except ProtectedError:
            raise Conflict(
                "Products use this category; move them to another first.",
                details={"category": instance.code},
            ) from None


@extend_schema_view(
    list=extend_schema(summary="What each category is on each marketplace."),
)
class CategoryMappingViewSet(viewsets.ModelViewSet):
    serializer_class = CategoryMappingSerializer
    filterset_class = CategoryMappingFilter
    lookup_value_regex = r"\d+"
    pagination_class = None

    def get_queryset(self) -> QuerySet[CategoryMapping]:
        return CategoryMapping.objects.select_related("category").order_by(
            "category__code", "marketplace"
        )


@extend_schema_view(
    list=extend_schema(
        summary="What each canonical condition, size, colour and brand is on each marketplace."
    ),
)
class ValueMappingViewSet(viewsets.ModelViewSet):
    serializer_class = ValueMappingSerializer
    filterset_class = ValueMappingFilter
    lookup_value_regex = r"\d+"
    pagination_class = None

    def get_queryset(self) -> QuerySet[ValueMapping]:
        return ValueMapping.objects.order_by("kind", "value", "marketplace")
