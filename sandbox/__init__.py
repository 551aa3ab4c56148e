"""Loopback sandboxes of the marketplaces Relist talks to.

`sandbox.ebay.EbaySandbox` and `sandbox.etsy.EtsySandbox` are real HTTP servers that follow the
public contracts of the eBay Sell APIs and the Etsy Open API v3, keep state, count creations and
inject faults on demand (`sandbox.faults.FaultPlan`). Tests, benchmarks and the demo point the
production clients at them by changing only the base URL. Run them with `python -m sandbox`.
"""
