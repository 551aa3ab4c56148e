"""Fields shared by the API's input serializers."""

from typing import Any

from rest_framework import serializers

# PostgreSQL bigint: ids beyond it cannot exist, and saying so beats a database error.
MAX_ID = 2**63 - 1


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(item) for item in value)
    return False


class JSONObjectField(serializers.DictField):
    """A free-form JSON object. PostgreSQL's jsonb refuses the NUL character, so it is refused
    here, as a validation error, not later as a database error."""

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        value = super().to_internal_value(data)
        if _has_nul(value):
            raise serializers.ValidationError("Strings may not contain the NUL character.")
        return value


def id_field(**kwargs: Any) -> serializers.IntegerField:
    return serializers.IntegerField(min_value=1, max_value=MAX_ID, **kwargs)
