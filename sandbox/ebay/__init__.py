"""eBay Sell APIs sandbox (OAuth, Inventory, Fulfillment): `EbaySandbox`."""

from sandbox.ebay.server import EbaySandbox

__all__ = ["EbaySandbox"]
