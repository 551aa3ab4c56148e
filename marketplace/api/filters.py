"""Query filters of the job and product lists. Each one maps onto an index that keeps the
cursor-paginated list an index range scan at a million jobs (see MarketplaceJob.Meta.indexes)."""

from typing import Any, ClassVar

from django import forms
from django.db.models import QuerySet
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema_field

from batches.selectors import batch_pk_subquery
from marketplace.api.serializers.fields import MAX_ID
from marketplace.catalogue.selectors import action_type_ids
from marketplace.models import MarketplaceJob, Product
from marketplace.states import ActionCode, JobStatus, Marketplace


class _IdField(forms.IntegerField):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, min_value=1, max_value=MAX_ID, **kwargs)


@extend_schema_field({"type": "integer", "minimum": 1, "maximum": MAX_ID})
class IdFilter(filters.NumberFilter):
    field_class = _IdField


class _SharedFields(dict[str, forms.Field]):
    """A cached form class's fields, given to each of its forms as they are. Django deep-copies
    a form's fields for every instance so that one form may change its own; a filter form never
    does (validating reads a field, never writes it), and the copy cost ~0.15 ms per request."""

    def __deepcopy__(self, memo: dict[int, Any]) -> dict[str, forms.Field]:
        return dict(self)


class FormCachingFilterSet(filters.FilterSet):
    """django-filter builds a new form class, with a new form field per filter, on every
    request; these filters are the same for every request, so the class is built once per
    filter set, and its fields are shared by the forms (each request still validates with its
    own form instance)."""

    _form_classes: ClassVar[dict[type, type]] = {}

    def get_form_class(self) -> type:
        form_class = self._form_classes.get(type(self))
        if form_class is None:
            form_class = super().get_form_class()
            form_class.base_fields = _SharedFields(form_class.base_fields)
            self._form_classes[type(self)] = form_class
        return form_class


class JobFilter(FormCachingFilterSet):
    # distinct=False: no join can duplicate a job, and DISTINCT would sort the whole match
    # instead of walking an index.
    status = filters.MultipleChoiceFilter(
        choices=JobStatus.choices,
        distinct=False,
        help_text="Repeat for several: ?status=failed&status=expired",
    )
    marketplace = filters.MultipleChoiceFilter(choices=Marketplace.choices, distinct=False)
    action = filters.ChoiceFilter(choices=ActionCode.choices, method="filter_action")
    # Named as the job's fields are named in the output (one name per concept).
    batch_id = filters.CharFilter(
        method="filter_batch", max_length=64, help_text="The batch's public batch_id."
    )
    product_id = IdFilter(field_name="product_id")

    class Meta:
        model = MarketplaceJob
        fields = ("status", "marketplace", "action", "batch_id", "product_id")

    def filter_action(
        self, queryset: QuerySet[MarketplaceJob], name: str, value: str
    ) -> QuerySet[MarketplaceJob]:
        # The catalogue is cached per process: filter on the foreign key, join nothing.
        return queryset.filter(action_type_id__in=action_type_ids(code=value))

    def filter_batch(
        self, queryset: QuerySet[MarketplaceJob], name: str, value: str
    ) -> QuerySet[MarketplaceJob]:
        # Not a join on batch_id: PostgreSQL would not know which batch when planning, and
        # would walk the primary key past every newer job of other batches.
        return queryset.filter(batch_id=batch_pk_subquery(batch_id=value))


class ProductFilter(filters.FilterSet):
    sku = filters.CharFilter(max_length=64)

    class Meta:
        model = Product
        fields = ("sku",)
