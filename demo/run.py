"""The demo's Django side: database, tenant and products, the batch over the API, the summary.

Imported after the environment is set (demo/__main__.py)."""

import secrets
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from urllib.parse import unquote

import django
import environ
import psycopg
import requests

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.db.models import Count, F, Max, Min, Q, Sum  # noqa: E402
from django.db.models.functions import Greatest  # noqa: E402

from marketplace.models import Category, MarketplaceJob, Product, ProductImage  # noqa: E402
from marketplace.services.account_setup import connection_setup_refresh  # noqa: E402
from marketplace.services.connections import TokenGrant, connection_store  # noqa: E402
from tenants.auth import api_token_issue  # noqa: E402
from tenants.context import tenant_context  # noqa: E402
from tenants.models import Membership, Tenant  # noqa: E402
from tenants.services import extension_token_issue, tenant_provision  # noqa: E402

SCHEMA, DOMAIN, OWNER, ADMIN = "demo", "demo.localhost", "demo", "admin"
MARKETPLACES = ["vinted", "ebay", "etsy"]
# Canonical products (issue 12): a category, condition, brand, size and colours the shop's
# seeded mappings translate into each marketplace's ids.
CATALOGUE = [
    ("Levi's trucker denim jacket", "mens-coats-jackets", "Levi's", "M", ["blue"], "Cotton"),
    ("Burberry check wool scarf", "scarves", "Burberry", "", ["beige", "red"], "Wool"),
    ("Dr. Martens 1460 leather boots", "womens-boots", "Dr. Martens", "7", ["black"], "Leather"),
    ("Zara satin midi dress", "womens-dresses", "Zara", "S", ["green"], "Polyester"),
    ("Nike Air Max 90 sneakers", "mens-sneakers", "Nike", "10", ["white", "grey"], "Leather"),
]


@dataclass(frozen=True)
class Seeded:
    domain: str
    api_token: str
    extension_token: str
    product_ids: list[int]
    admin_password: str = ""


@dataclass(frozen=True)
class Outcome:
    finished: bool
    completed: int
    failed: int


def prepare_database() -> None:
    """Create the demo database if needed and migrate every schema."""
    url = environ.Env.db_url_config(environ.Env().str("DATABASE_URL"))
    host = unquote(url["HOST"])
    admin = f"host={host} port={url['PORT'] or 5432} user={url['USER']} dbname=postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [url["NAME"]]
        ).fetchone():
            conn.execute(f'CREATE DATABASE "{url["NAME"]}"')
    call_command("migrate_schemas", verbosity=0)


def _sandbox_tokens(port: int) -> dict:
    response = requests.post(f"http://127.0.0.1:{port}/__sandbox__/tokens", json={}, timeout=5)
    response.raise_for_status()
    return response.json()


def seed(*, products: int, ebay_port: int, etsy_port: int) -> Seeded:
    connection.set_schema_to_public()
    tenant = Tenant.objects.filter(schema_name=SCHEMA).first() or tenant_provision(
        schema_name=SCHEMA, name="Demo shop", domain=DOMAIN, owner_username=OWNER
    )
    owner = Membership.objects.select_related("user").get(tenant=tenant, role="owner").user
    _, api_token = api_token_issue(user=owner, name="demo")
    admin_password = _admin_reset()
    _, extension_token = extension_token_issue(tenant=tenant, user=owner, name="demo simulator")
    ebay, etsy = _sandbox_tokens(ebay_port), _sandbox_tokens(etsy_port)
    run_id = time.strftime("%H%M%S")
    with tenant_context(SCHEMA):
        connection_store(marketplace="ebay", grant=_grant(ebay))
        connection_store(marketplace="etsy", grant=_grant(etsy), account_id=str(etsy["shop_id"]))
        # As at connect time: the business policies / shipping profiles listings are sent with.
        connection_setup_refresh(marketplace="ebay")
        connection_setup_refresh(marketplace="etsy")
        product_ids = []
        for n in range(products):
            title, category, brand, size, colours, material = CATALOGUE[n % len(CATALOGUE)]
            product = Product.objects.create(
                sku=f"DEMO-{run_id}-{n:03d}",
                title=f"{title} #{n}",
                description="Good condition, from a smoke-free home.",
                price=Decimal("19.90") + n,
                currency="EUR",
                category=Category.objects.get(code=category),
                condition="used_very_good",
                brand=brand,
                size=size,
                colours=colours,
                material=material,
                weight_g=600 + 100 * (n % 5),
            )
            for position in range(2):
                ProductImage.objects.create(
                    product=product,
                    url=f"http://127.0.0.1:{ebay_port}/__sandbox__/images/p{n}-{position}.jpg",
                    position=position,
                )
            product_ids.append(product.pk)
    return Seeded(DOMAIN, api_token, extension_token, product_ids, admin_password)


def _admin_reset() -> str:
    """A staff superuser for both admins, with a new password each run (printed by
    --keep-running; nothing is stored)."""
    user_model = get_user_model()
    admin, _ = user_model.objects.get_or_create(username=ADMIN)
    password = secrets.token_urlsafe(9)
    admin.is_staff = admin.is_superuser = admin.is_active = True
    admin.set_password(password)
    admin.save()
    return password


def _grant(tokens: dict) -> TokenGrant:
    return TokenGrant(
        access_token=tokens["access_token"],
        expires_in=int(tokens["expires_in"]),
        refresh_token=tokens.get("refresh_token"),
        refresh_token_expires_in=tokens.get("refresh_token_expires_in"),
    )


def publish_and_watch(seeded: Seeded, *, web_port: int, timeout: float) -> Outcome:
    api = f"http://127.0.0.1:{web_port}/api"
    headers = {"Host": seeded.domain, "Authorization": f"Bearer {seeded.api_token}"}
    started = time.monotonic()
    response = requests.post(
        f"{api}/batches/",
        json={"product_ids": seeded.product_ids, "marketplaces": MARKETPLACES, "action": "publish"},
        headers=headers,
        timeout=10,
    )
    response.raise_for_status()
    batch = response.json()
    print(f"Batch {batch['batch_id']}: {batch['total_count']} jobs, created in "
          f"{(time.monotonic() - started) * 1000:.0f} ms")  # fmt: skip
    finished, last_line = False, ""
    while time.monotonic() - started < timeout:
        polled = _poll(f"{api}/batches/{batch['batch_id']}/", headers=headers)
        if polled is None:  # one failed poll (a busy machine): say so, try again
            time.sleep(1)
            continue
        batch = polled
        last_line = _draw(batch, last_line)
        if batch["is_terminal"]:
            finished = True
            break
        time.sleep(0.25)
    print()
    _summary(batch, elapsed=time.monotonic() - started)
    if not finished:
        print(f"The batch did not finish within {timeout:.0f}s.")
    return Outcome(finished, int(batch["completed_count"]), int(batch["failed_count"]))


def sell_and_watch(
    seeded: Seeded, *, web_port: int, ebay_port: int, count: int, timeout: float = 120.0
) -> int:
    """A buyer purchases `count` published items on eBay; the scheduled sale sync finds the
    orders and the items are delisted everywhere else. Prints each marketplace's outcome and
    the latency from the purchase to the delist job's end. Returns the sales fully delisted."""
    api = f"http://127.0.0.1:{web_port}/api"
    headers = {"Host": seeded.domain, "Authorization": f"Bearer {seeded.api_token}"}
    sold: dict[int, tuple[str, float]] = {}
    for product_id in seeded.product_ids:
        if len(sold) == count:
            break
        sku = requests.get(f"{api}/products/{product_id}/", headers=headers, timeout=10).json()[
            "sku"
        ]
        bought = requests.post(
            f"http://127.0.0.1:{ebay_port}/__sandbox__/purchase", json={"sku": sku}, timeout=5
        )
        if bought.status_code == 200:  # an item whose eBay publish failed is not for sale there
            sold[product_id] = (sku, time.time())
    print(f"\nA buyer purchased {len(sold)} item(s) on eBay; waiting for the delists elsewhere…")
    done: set[int] = set()
    started = time.monotonic()
    while len(done) < len(sold) and time.monotonic() - started < timeout:
        for product_id, (sku, bought_at) in sold.items():
            if product_id not in done and _delisted(api, headers, product_id, sku, bought_at):
                done.add(product_id)
        time.sleep(1)
    for product_id in set(sold) - done:
        print(f"  {sold[product_id][0]}: not delisted everywhere within {timeout:.0f}s")
    return len(done)


def _delisted(api: str, headers: dict[str, str], product_id: int, sku: str, at: float) -> bool:
    """Print the sale's outcomes once every other marketplace is settled; True then."""
    found = _poll(f"{api}/sales/?product_id={product_id}", headers=headers)
    sales = (found or {}).get("results") or []
    if not sales or any(a["outcome"] == "queued" for a in sales[0]["actions"]):
        return False
    parts = []
    for action in sales[0]["actions"]:
        line = f"{action['marketplace']}: {action['outcome']}"
        if action["job_id"]:
            job = _poll(f"{api}/jobs/{action['job_id']}/", headers=headers) or {}
            if job.get("finished_at"):
                ended = datetime.fromisoformat(job["finished_at"].replace("Z", "+00:00"))
                line += f" in {ended.timestamp() - at:.1f}s"
        parts.append(line)
    print(f"  {sku} sold on eBay → " + ", ".join(parts))
    return True


def _poll(url: str, *, headers: dict[str, str]) -> dict | None:
    """The batch as the API shows it, or None (reported) when this one poll failed."""
    try:
        response = requests.get(url, headers=headers, timeout=10)
        response.raise_for_status()
        return dict(response.json())
    except (requests.RequestException, ValueError) as error:
        print(f"\n(polling the batch failed, retrying: {type(error).__name__}: {error})")
        return None


def _draw(batch: dict, last_line: str) -> str:
    """One progress line: redrawn in place on a terminal, printed on change in a log."""
    width = 40
    done = int(width * batch["progress_percent"] / 100)
    line = (
        f"[{'#' * done}{'.' * (width - done)}] {batch['progress_percent']:6.2f}%  "
        f"completed {batch['completed_count']}  failed {batch['failed_count']}  "
        f"status {batch['status']}"
    )
    if sys.stdout.isatty():
        print(f"\r{line}", end="", flush=True)
    elif line != last_line:
        print(line, flush=True)
    return line


def _summary(batch: dict, *, elapsed: float) -> None:
    with tenant_context(SCHEMA):
        jobs = MarketplaceJob.objects.filter(batch__batch_id=batch["batch_id"])
        rows = (
            jobs.values("marketplace")
            .annotate(
                completed=Count("pk", filter=Q(status="completed")),
                failed=Count("pk", filter=Q(status="failed")),
                other=Count("pk", filter=~Q(status__in=("completed", "failed"))),
                retries=Sum(Greatest(F("attempts") - 1, 0)),
                first=Min("started_at"),
                last=Max("finished_at"),
            )
            .order_by("marketplace")
        )
        print(
            f"{'marketplace':<12}{'completed':>10}{'failed':>8}{'other':>7}{'retries':>9}{'time':>9}"
        )
        for row in rows:
            span = (row["last"] - row["first"]) if row["first"] and row["last"] else timedelta()
            print(
                f"{row['marketplace']:<12}{row['completed']:>10}{row['failed']:>8}"
                f"{row['other']:>7}{row['retries'] or 0:>9}{span.total_seconds():>8.1f}s"
            )
        for job in jobs.filter(status="failed").order_by("pk")[:5]:
            # The whole message: the marketplace's own words are the point.
            print(f"  failed: job {job.pk} {job.marketplace}: {job.error_message}")
    print(f"Batch {batch['batch_id']}: {batch['status']} in {elapsed:.1f}s")


def explain(seeded: Seeded, *, web_port: int, flower_port: int | None) -> None:
    """What to do with the running system: logins, token, example calls."""
    web = f"http://{seeded.domain}:{web_port}"
    auth = f'-H "Authorization: Bearer {seeded.api_token}"'
    lines = [
        "",
        "The system keeps running; logs in var/demo/. Ctrl-C stops everything.",
        f"  API docs     {web}/api/docs/",
        f"  API token    {seeded.api_token}   (user {OWNER}, owner of the demo shop)",
        f"  Shop admin   {web}/admin/   login {ADMIN} / {seeded.admin_password}",
        f"  Operators    http://localhost:{web_port}/admin/   same login",
        f"  Metrics      http://localhost:{web_port}/metrics",
    ]
    if flower_port is not None:
        lines.append(f"  Flower       http://127.0.0.1:{flower_port}/")
    lines += [
        "  Try:",
        f"    curl -s {auth} '{web}/api/batches/'",
        f"    curl -s {auth} '{web}/api/jobs/?status=failed'",
        f"    curl -s {auth} -H 'Content-Type: application/json' -d "
        f'\'{{"product_ids": [{seeded.product_ids[0]}], "marketplaces": ["ebay"], '
        f'"action": "update"}}\' \'{web}/api/batches/\'',
        f"    curl -s http://localhost:{web_port}/metrics | grep ^relist_",
        "  manage.py finds the demo's database through var/demo.env:",
        "    .venv/bin/python manage.py shell",
    ]
    print("\n".join(lines), flush=True)
