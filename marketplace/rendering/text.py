"""Text, price and image rules shared by the marketplaces' payloads."""

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class Reason:
    """Why a product cannot be listed on a marketplace yet: a stable code for programs, the
    field at fault, and a sentence for people."""

    code: str
    message: str
    field: str = ""

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "field": self.field, "message": self.message}


def fit(text: str, limit: int) -> str:
    """`text` on one line within `limit` characters, cut at a word boundary when it must be
    cut (a title cut mid-word reads as a typo), never empty when `text` is not."""
    text = _SPACES.sub(" ", text).strip()
    if len(text) <= limit:
        return text
    cut = text[: limit + 1].rsplit(" ", 1)[0] if " " in text[: limit + 1] else ""
    cut = cut.rstrip(" ,;:-/&+")
    return cut if cut else text[:limit]


def fit_block(text: str, limit: int) -> str:
    """A description within `limit` characters, line breaks kept, cut at a word boundary."""
    text = text.strip()
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(None, 1)[0] if len(text[:limit].split()) > 1 else text[:limit]
    return cut.rstrip()


def price(value: Decimal) -> Decimal:
    """Prices travel with two decimals, rounded half up, as every marketplace displays them."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def price_reason(value: Decimal, *, low: Decimal, high: Decimal, name: str) -> Reason | None:
    rounded = price(value)
    if low <= rounded <= high:
        return None
    return Reason(
        "price_out_of_bounds",
        f"{name} accepts prices from {low} to {high}; this one is {rounded}.",
        "price",
    )


def images(urls: Sequence[str], limit: int) -> list[str]:
    """The product's images in their order (the first is the cover), without repeats, capped
    at the marketplace's limit."""
    return list(dict.fromkeys(urls))[:limit]


def unique_words(values: Iterable[str]) -> list[str]:
    """Values in order, without case-insensitive repeats and empties."""
    seen: dict[str, str] = {}
    for value in values:
        value = _SPACES.sub(" ", value).strip()
        if value and value.casefold() not in seen:
            seen[value.casefold()] = value
    return list(seen.values())
