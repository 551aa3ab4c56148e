from django_filters import rest_framework as filters

from batches.models import BatchJob
from batches.states import BatchStatus
from marketplace.states import ActionCode


class BatchFilter(filters.FilterSet):
    status = filters.MultipleChoiceFilter(choices=BatchStatus.choices, distinct=False)
    action = filters.ChoiceFilter(choices=ActionCode.choices)

    class Meta:
        model = BatchJob
        fields = ("status", "action")
