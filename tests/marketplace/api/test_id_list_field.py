"""IdListField takes a one-pass path for plain ids; it must accept, convert and refuse exactly
what DRF's ListField of id fields does, with the same messages."""

import pytest
from rest_framework import serializers

from marketplace.api.serializers.fields import MAX_ID, IdListField, id_field


class _Fast(serializers.Serializer):
    ids = IdListField(min_length=1, max_length=3)


class _Drf(serializers.Serializer):
    ids = serializers.ListField(child=id_field(), min_length=1, max_length=3)


def _outcome(serializer_class: type[serializers.Serializer], value: object) -> object:
    serializer = serializer_class(data={"ids": value})
    if serializer.is_valid():
        return ("valid", serializer.validated_data["ids"])
    return ("invalid", serializer.errors)


@pytest.mark.parametrize(
    "value",
    [
        pytest.param([1, 2, MAX_ID], id="plain-ids"),
        pytest.param(["7", 8], id="numeric-string"),
        pytest.param([1.0], id="integral-float"),
        pytest.param([0], id="zero"),
        pytest.param([MAX_ID + 1], id="over-bigint"),
        pytest.param([True], id="bool"),
        pytest.param([None], id="null-element"),
        pytest.param(["x"], id="word"),
        pytest.param([], id="empty"),
        pytest.param([1, 2, 3, 4], id="too-long"),
        pytest.param("1,2", id="string"),
        pytest.param({"a": 1}, id="object"),
        pytest.param(None, id="null"),
    ],
)
def test_id_list_field_answers_as_drf_list_field_does(value):
    # given / when
    fast, drf = _outcome(_Fast, value), _outcome(_Drf, value)
    # then
    assert fast == drf
