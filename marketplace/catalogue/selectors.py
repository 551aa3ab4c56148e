"""The catalogue is small and changes only by migration, so each process caches it."""

from functools import cache

from core.errors import ValidationFailed
from marketplace.catalogue.models import MarketplaceActionType


@cache
def _catalogue() -> dict[tuple[str, str], MarketplaceActionType]:
    return {
        (action.marketplace, action.code): action
        for action in MarketplaceActionType.objects.filter(is_active=True)
    }


def action_type_get(*, marketplace: str, code: str) -> MarketplaceActionType:
    try:
        return _catalogue()[(marketplace, code)]
    except KeyError:
        raise ValidationFailed(
            f"{marketplace} has no action {code!r}.",
            details={"marketplace": marketplace, "action": code},
        ) from None


def action_type_by_pk(pk: int) -> MarketplaceActionType:
    for action in _catalogue().values():
        if action.pk == pk:
            return action
    raise ValidationFailed("Unknown action type.", details={"action_type": pk})


def action_type_cache_clear() -> None:
    _catalogue.cache_clear()


def action_type_ids(*, code: str) -> list[int]:
    """The ids of `code` on every marketplace: a job filter by action without a join to the
    public catalogue."""
    return sorted(
        action.pk for (_, action_code), action in _catalogue().items() if action_code == code
    )
