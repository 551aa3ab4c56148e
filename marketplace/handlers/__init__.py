"""Per-marketplace handlers. Importing this package registers every handler."""

from marketplace.handlers import registry
from marketplace.handlers.ebay import handler as _ebay  # noqa: F401 - registers
from marketplace.handlers.etsy import handler as _etsy  # noqa: F401 - registers
from marketplace.handlers.vinted import handler as _vinted  # noqa: F401 - registers

__all__ = ("registry",)
