"""A Vinted refusal keeps Vinted's code and field errors in the job's error message."""

from core.errors import MarketplaceAuthError, PermanentMarketplaceError
from marketplace.handlers.vinted.handler import _explained


def test_a_validation_error_names_vinteds_code_and_fields():
    # given what the client raises for the simulator's 422 (body kept in details)
    body = {
        "code": 99,
        "message": "Validation failed",
        "message_code": "validation_error",
        "errors": [{"field": "color_ids", "value": "must contain at most 2 colours"}],
    }
    error = PermanentMarketplaceError(
        "vinted POST /api/v2/item_upload/items → 422: Validation failed", status=422, details=body
    )
    # when
    explained = _explained(error)
    # then
    assert (type(explained), explained.status, explained.details) == (
        PermanentMarketplaceError,
        422,
        body,
    )
    assert explained.message == (
        "vinted POST /api/v2/item_upload/items → 422: Validation failed "
        "(Vinted code 99: color_ids must contain at most 2 colours)"
    )


def test_a_plain_error_keeps_its_code_and_class():
    error = MarketplaceAuthError("vinted GET /x → 404: item not found", status=404, details={
        "code": 404, "message": "item not found"})  # fmt: skip
    explained = _explained(error)
    assert (type(explained), explained.message) == (
        MarketplaceAuthError,
        "vinted GET /x → 404: item not found (Vinted code 404)",
    )


def test_an_error_without_a_body_is_unchanged():
    error = PermanentMarketplaceError("vinted GET /x → 400: no detail", status=400)
    assert _explained(error) is error
