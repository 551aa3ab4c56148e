"""A tiny Celery app for the bare baselines, with no Django and no orchestration:

* `bench.noop` — (a): does nothing.
* `bench.publish` — (b): what an eBay publish does on the wire, and nothing else. It claims its
  row (UPDATE … WHERE status = 'pending'), makes the same three keep-alive calls with the same
  headers and bodies as `marketplace.handlers.ebay` (PUT inventory_item/{sku}, POST offer,
  POST offer/{id}/publish), commits one UPDATE after each call and one on completion: five
  commits per job.

Configured like config/settings/celery.py: Redis broker, acks_late, reject_on_worker_lost,
prefetch 1, JSON, no results. Started with `celery -A bench.bare_tasks worker` by the bench, with
the environment of bench.env plus BENCH_DSN and BENCH_EBAY_TOKEN.
"""

import os
import threading
from typing import Any

import psycopg
import requests
from celery import Celery

QUEUE = "bench_bare"
TABLE = "bench_bare_job"
INVENTORY = "/sell/inventory/v1"

# Not the current app: the bench process also holds Relist's app, whose shared tasks must
# keep resolving to it (tenant-schemas-celery's TenantTask).
app = Celery("bench_bare", set_as_current=False)
app.conf.update(
    broker_url=os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/8"),
    result_backend=None,
    task_ignore_result=True,
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    task_serializer="json",
    accept_content=["json"],
    task_default_queue=QUEUE,
    broker_transport_options={"visibility_timeout": 3600},
    worker_hijack_root_logger=False,
    broker_connection_retry_on_startup=True,
)

# One database connection and one keep-alive session per pool process or thread, as Django's
# persistent connections and Relist's per-thread sessions give the engine.
_local = threading.local()


def _db() -> psycopg.Connection:
    conn = getattr(_local, "db", None)
    if conn is None or conn.closed:
        conn = _local.db = psycopg.connect(os.environ["BENCH_DSN"], autocommit=True)
    return conn


def _session() -> requests.Session:
    session = getattr(_local, "session", None)
    if session is None:
        session = _local.session = requests.Session()
        # As the marketplace clients do: no proxy lookup in os.environ on every call, so the
        # baseline and Relist pay the same per-call cost.
        session.trust_env = False
    return session


def _headers() -> dict[str, str]:
    return {
        "Authorization": f"Bearer {os.environ['BENCH_EBAY_TOKEN']}",
        "Content-Language": "en-US",
        "Accept": "application/json",
    }


def inventory_item_body(title: str, image_url: str) -> dict[str, Any]:
    """The shape of marketplace.handlers.ebay.payloads.inventory_item."""
    return {
        "availability": {"shipToLocationAvailability": {"quantity": 1}},
        "condition": "USED_GOOD",
        "product": {
            "title": title[:80],
            "description": title,
            "imageUrls": [image_url],
            "aspects": {
                "Department": ["Men"],
                "Type": ["Jacket"],
                "Brand": ["Bench"],
                "Size": ["M"],
                "Colour": ["Blue"],
            },
        },
    }


def offer_body(sku: str, title: str, price: str) -> dict[str, Any]:
    """The shape of marketplace.handlers.ebay.payloads.offer."""
    return {
        "sku": sku,
        "marketplaceId": "EBAY_US",
        "format": "FIXED_PRICE",
        "availableQuantity": 1,
        "categoryId": "57988",
        "listingDescription": title,
        "pricingSummary": {"price": {"value": price, "currency": "EUR"}},
        # The sandbox seller's seeded policies and location (bench.engine.BENCH_EBAY_SETUP):
        # like eBay, the sandbox refuses to publish an offer without them.
        "listingPolicies": {
            "fulfillmentPolicyId": "6200000001",
            "paymentPolicyId": "6200000002",
            "returnPolicyId": "6200000003",
        },
        "merchantLocationKey": "default-warehouse",
    }


def _call(method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    base = os.environ["EBAY_API_BASE_URL"]
    response = _session().request(
        method, f"{base}{path}", json=body, headers=_headers(), timeout=(5.0, 30.0)
    )
    response.raise_for_status()
    return response.json() if response.content else {}


@app.task(name="bench.noop", ignore_result=True)
def noop(job_id: int) -> None:
    return None


@app.task(name="bench.publish", ignore_result=True)
def publish(job_id: int) -> str:
    db = _db()
    row = db.execute(
        f"UPDATE {TABLE} SET status = 'running', started_at = now() "
        "WHERE id = %s AND status = 'pending' RETURNING sku, title, price, image_url",
        [job_id],
    ).fetchone()
    if row is None:
        return "dropped"  # a duplicate delivery: the claim failed
    sku, title, price, image_url = row
    _call("PUT", f"{INVENTORY}/inventory_item/{sku}", inventory_item_body(title, image_url))
    db.execute(f"UPDATE {TABLE} SET step = 1 WHERE id = %s", [job_id])
    offer_id = str(_call("POST", f"{INVENTORY}/offer", offer_body(sku, title, price))["offerId"])
    db.execute(f"UPDATE {TABLE} SET step = 2, offer_id = %s WHERE id = %s", [offer_id, job_id])
    listing_id = str(_call("POST", f"{INVENTORY}/offer/{offer_id}/publish")["listingId"])
    db.execute(f"UPDATE {TABLE} SET step = 3, listing_id = %s WHERE id = %s", [listing_id, job_id])
    db.execute(f"UPDATE {TABLE} SET status = 'done', finished_at = now() WHERE id = %s", [job_id])
    return "done"
