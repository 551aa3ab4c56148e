"""Sale detection and auto-delist (docs/sales.md)."""

from config.env import env

# How often each connected marketplace of each tenant has its orders synced (seconds).
RELIST_SALE_SYNC_INTERVAL_S = env.int("RELIST_SALE_SYNC_INTERVAL_S", default=120)
# How far back the first sync of a new connection reads orders.
RELIST_SALE_SYNC_FIRST_DAYS = env.int("RELIST_SALE_SYNC_FIRST_DAYS", default=30)
# A delist held for confirmation expires after this many days.
RELIST_DELIST_HOLD_DAYS = env.int("RELIST_DELIST_HOLD_DAYS", default=7)
# How often beat looks for due schedule rows (seconds); one indexed query per pass.
RELIST_SALE_SYNC_POLL_S = env.float("RELIST_SALE_SYNC_POLL_S", default=15.0)
