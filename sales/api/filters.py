from django_filters import rest_framework as filters

from marketplace.models import Listing, Order
from marketplace.states import ListingStatus, Marketplace
from sales.models import Sale


class OrderFilter(filters.FilterSet):
    marketplace = filters.ChoiceFilter(choices=Marketplace.choices)

    class Meta:
        model = Order
        fields = ("marketplace",)


class ListingFilter(filters.FilterSet):
    marketplace = filters.ChoiceFilter(choices=Marketplace.choices)
    status = filters.ChoiceFilter(choices=ListingStatus.choices)
    product_id = filters.NumberFilter(field_name="product_id", min_value=1)

    class Meta:
        model = Listing
        fields = ("marketplace", "status", "product_id")


class SaleFilter(filters.FilterSet):
    marketplace = filters.ChoiceFilter(choices=Marketplace.choices)
    product_id = filters.NumberFilter(field_name="product_id", min_value=1)

    class Meta:
        model = Sale
        fields = ("marketplace", "product_id")
