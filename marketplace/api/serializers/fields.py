"""Fields shared by the API's input serializers."""

import re
from typing import Any

from drf_spectacular.utils import extend_schema_field
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


class IdListField(serializers.ListField):
    """A list of ids (`id_field`), checked in one pass when every element is a plain integer in
    range: ListField runs the child field's whole validation per element, 20 ms for a batch's
    10,000 product ids. Anything else (strings, floats, out of range, not a list) goes through
    ListField itself, so what is accepted and every error message are ListField's."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(child=id_field(), **kwargs)

    def to_internal_value(self, data: Any) -> list[Any]:
        # `type(v) is int`: a bool is not an id, as IntegerField says (it refuses "True").
        if (
            type(data) is list
            and (data or self.allow_empty)
            and all(type(v) is int and 1 <= v <= MAX_ID for v in data)
        ):
            return list(data)
        return super().to_internal_value(data)


MONEY_PATTERN = r"^\d{1,8}(?:\.\d{1,2})?$"
_MONEY = re.compile(MONEY_PATTERN)


@extend_schema_field(
    {"type": "string", "format": "decimal", "pattern": MONEY_PATTERN, "example": "25.50"}
)
class MoneyField(serializers.DecimalField):
    """An amount as a decimal string, in requests and in responses ("25.50"): what the schema
    documents, exactly. A JSON number is refused (a binary float is not an amount of money), so
    is any string the pattern refuses (exponents, spaces, a sign)."""

    default_error_messages = {
        **serializers.DecimalField.default_error_messages,
        "not_a_string": 'Send the amount as a string, e.g. "25.50".',
    }

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_digits", 10)
        kwargs.setdefault("decimal_places", 2)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, str):
            self.fail("not_a_string")
        value = super().to_internal_value(data)  # its messages: too many digits …
        if not _MONEY.fullmatch(data):
            self.run_validators(value)  # a negative amount: min_value's message says why
            self.fail("invalid")
        return value
