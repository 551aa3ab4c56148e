"""Live updates for sales, delists and oversell alerts, on the tenant's `/ws/live/` group."""

from django.db import connection, transaction

from marketplace.services import live


def live_sales_changed(*, sales: int, oversells: int, restocked: int) -> None:
    """Call inside the recording transaction; published after commit, only to subscribers."""
    schema = connection.schema_name
    if not live.has_subscribers(schema):
        return
    event = {"kind": "sales", "sales": sales, "oversells": oversells, "restocked": restocked}
    transaction.on_commit(lambda: live.live_send(schema, event))
