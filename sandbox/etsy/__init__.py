"""Etsy Open API v3 sandbox (OAuth with PKCE, listings, images, shop, receipts): `EtsySandbox`."""

from sandbox.etsy.server import EtsySandbox

__all__ = ["EtsySandbox"]
