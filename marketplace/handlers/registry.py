"""(marketplace, action) → handler. Handlers register themselves with @register."""

from collections.abc import Callable

from core.errors import PermanentMarketplaceError
from marketplace.handlers.base import Handler

_HANDLERS: dict[tuple[str, str], Handler] = {}


def register(marketplace: str, action: str) -> Callable[[type], type]:
    def decorator(cls: type) -> type:
        key = (marketplace, action)
        if key in _HANDLERS:
            raise RuntimeError(f"Two handlers for {key}")
        cls.marketplace = marketplace  # type: ignore[attr-defined]
        cls.action = action  # type: ignore[attr-defined]
        _HANDLERS[key] = cls()
        return cls

    return decorator


def handler_get(*, marketplace: str, action: str) -> Handler:
    try:
        return _HANDLERS[(marketplace, action)]
    except KeyError:
        raise PermanentMarketplaceError(
            f"No handler for {action} on {marketplace}.",
            details={"marketplace": marketplace, "action": action},
        ) from None


def registered() -> list[tuple[str, str]]:
    return sorted(_HANDLERS)
