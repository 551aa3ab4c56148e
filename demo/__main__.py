"""`python -m demo` (or `make demo`): bring the system up and run a real batch end to end.

It provisions a demo tenant with products, starts the eBay/Etsy sandboxes (with injected
faults), the web server, the workers and beat (honcho over the Procfile), and the Vinted
extension simulator, then publishes every product to Vinted, eBay and Etsy through the REST API
with a live progress bar, and prints a summary. Exits non-zero if the batch did not finish or a
job failed. Ctrl-C, SIGTERM and SIGHUP stop every process it started, embedded servers too."""

import argparse
import os
import shutil
import sys
import time
from pathlib import Path

import environ

from demo.embedded import EmbeddedServices, Plan, ServiceUnreachable, plan
from demo.processes import (
    LOGS,
    ROOT,
    Children,
    Stop,
    free_port,
    ignore_stop_signals,
    port_is_free,
    stop_on_signals,
    wait_port,
)

# The file manage.py reads (config/env.py, local settings only) to find the demo's services.
DEMO_ENV_FILE = Path(os.environ.get("DEMO_ENV_FILE", ROOT / "var" / "demo.env"))
SERVICE_VARIABLES = ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "CHANNELS_REDIS_URL")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m demo", description=__doc__)
    parser.add_argument("--products", type=int, default=20, help="products to publish")
    parser.add_argument("--short", action="store_true", help="a small, quick run (CI)")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds for the batch")
    parser.add_argument("--error-rate", type=float, default=0.08, help="sandbox 5xx share")
    parser.add_argument("--rate-limit-rate", type=float, default=0.04, help="sandbox 429 share")
    parser.add_argument("--port", type=int, default=8000, help="the web server's port")
    parser.add_argument("--flower", action="store_true", help="also start Flower (Procfile)")
    parser.add_argument(
        "--sales",
        type=int,
        default=None,
        help="items a buyer purchases on eBay after publishing (default 2, 1 with --short)",
    )
    parser.add_argument("--flower-port", type=int, default=5555, help="Flower's port")
    parser.add_argument(
        "--keep-running", action="store_true", help="leave the system up until Ctrl-C"
    )
    args = parser.parse_args(argv)
    if args.short:
        args.products = min(args.products, 4)
        args.timeout = min(args.timeout, 180.0)
    return args


def demo_environment(*, database_url: str, ebay_port: int, etsy_port: int) -> dict[str, str]:
    env = {
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DATABASE_URL": database_url,
        "EBAY_API_BASE_URL": f"http://127.0.0.1:{ebay_port}",
        "EBAY_AUTH_BASE_URL": f"http://127.0.0.1:{ebay_port}",
        "ETSY_API_BASE_URL": f"http://127.0.0.1:{etsy_port}/v3",
        "ETSY_TOKEN_URL": f"http://127.0.0.1:{etsy_port}/v3/public/oauth/token",
        # Gentle anti-bot pacing and quick retries, so the demo shows them in seconds.
        "VINTED_MIN_SPACING_S": "0.1",
        "VINTED_SPACING_JITTER_S": "0.1",
        "RELIST_RETRY_BACKOFF_SCALE_S": "0.25",
        "RELIST_SWEEP_INTERVAL_S": "10",
        # Sale detection every 10 s (production: 120 s), so the sales phase shows in seconds.
        "RELIST_SALE_SYNC_INTERVAL_S": "10",
        "RELIST_SALE_SYNC_POLL_S": "2",
        # Every process of the demo writes its metrics here; /metrics adds them up.
        "PROMETHEUS_MULTIPROC_DIR": str(LOGS / "metrics"),
        "PYTHONUNBUFFERED": "1",
    }
    return {**os.environ, **env}


def procfile_processes(*, flower: bool) -> list[str]:
    """The Procfile's entries honcho starts: all, Flower only when asked for."""
    names = [
        line.split(":", 1)[0].strip()
        for line in (ROOT / "Procfile").read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#") and ":" in line
    ]
    return [name for name in names if flower or name != "flower"]


def write_demo_env(env: dict[str, str]) -> None:
    DEMO_ENV_FILE.parent.mkdir(parents=True, exist_ok=True)
    lines = [
        "# Written by `python -m demo`: manage.py (local settings) reads it when these variables",
        "# are not set otherwise, so it works against the demo's database and Redis.",
        *(f"{name}={env[name]}" for name in SERVICE_VARIABLES if env.get(name)),
    ]
    DEMO_ENV_FILE.write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # Django reads .env itself; the demo reads it first so it checks the same URLs.
    environ.Env.read_env(ROOT / ".env", overwrite=False)
    if not port_is_free(args.port):
        print(f"Port {args.port} is in use: stop what listens there or pass --port N.")
        return 2
    try:
        services = plan(dict(os.environ))
    except ServiceUnreachable as error:
        print(error)
        return 2
    with stop_on_signals():
        return _run(args, services)


def _run(args: argparse.Namespace, services: Plan) -> int:
    embedded, children = EmbeddedServices(), Children()
    started = time.monotonic()
    try:
        os.environ.update(services.redis_urls)
        os.environ["DEMO_DATABASE_URL"] = services.database_url
        if services.embed_postgres or services.embed_redis:
            missing = [
                name
                for name, embed in (
                    ("PostgreSQL", services.embed_postgres),
                    ("Redis", services.embed_redis),
                )
                if embed
            ]
            print(f"Starting embedded {' and '.join(missing)} in var/embedded.")
            os.environ.update(
                embedded.environment(
                    need_postgres=services.embed_postgres, need_redis=services.embed_redis
                )
            )
        ebay_port, etsy_port, web_port = free_port(), free_port(), args.port
        env = demo_environment(
            database_url=os.environ["DEMO_DATABASE_URL"], ebay_port=ebay_port, etsy_port=etsy_port
        )
        os.environ.update(env)
        shutil.rmtree(LOGS / "metrics", ignore_errors=True)  # counters of an earlier run
        (LOGS / "metrics").mkdir(parents=True)
        from demo import run  # noqa: PLC0415 - Django is configured by the environment above

        run.prepare_database()
        write_demo_env(env)
        sandboxes = children.python(
            "sandboxes",
            ["-m", "sandbox", "all", "--ebay-port", str(ebay_port), "--etsy-port",
             str(etsy_port), "--error-rate", str(args.error_rate), "--rate-limit-rate",
             str(args.rate_limit_rate), "--seed", "7"],
            env,
        )  # fmt: skip
        wait_port(ebay_port, process=sandboxes)
        wait_port(etsy_port, process=sandboxes)
        seeded = run.seed(products=args.products, ebay_port=ebay_port, etsy_port=etsy_port)
        system = children.python(
            "system",
            ["-m", "honcho", "start", "-f", "Procfile", "-p", str(web_port),
             *procfile_processes(flower=args.flower)],
            {**env, "FLOWER_PORT": str(args.flower_port)},
        )  # fmt: skip
        # honcho gives each Procfile entry the next hundred: `web` (gunicorn, the REST API)
        # gets web_port, `sockets` (daphne, the WebSockets) web_port + 100.
        sockets_port = web_port + 100
        wait_port(web_port, process=system, timeout=60)
        wait_port(sockets_port, process=system, timeout=60)
        children.python(
            "extension",
            ["-m", "sandbox.vinted_extension", "--url", f"ws://127.0.0.1:{sockets_port}/ws/vinted/",
             "--token", seeded.extension_token, "--host", f"{seeded.domain}:{sockets_port}",
             "--error-rate", "0.05", "--seed", "7"],
            env,
        )  # fmt: skip
        print(
            f"System up in {time.monotonic() - started:.1f}s: "
            f"web http://{seeded.domain}:{web_port}/api/docs/"
        )
        outcome = run.publish_and_watch(seeded, web_port=web_port, timeout=args.timeout)
        sales = args.sales if args.sales is not None else (1 if args.short else 2)
        if outcome.finished and sales > 0:
            run.sell_and_watch(seeded, web_port=web_port, ebay_port=ebay_port, count=sales)
        if args.keep_running:
            flower_port = args.flower_port if args.flower else None
            run.explain(seeded, web_port=web_port, flower_port=flower_port)
            while True:
                time.sleep(3600)
        return 0 if outcome.finished and outcome.failed == 0 else 1
    except Stop as stop:
        print(f"\n{stop}: stopping…", flush=True)
        return 128 + stop.signum
    finally:
        ignore_stop_signals()
        children.stop()
        embedded.stop()
        if services.embed_postgres or services.embed_redis:
            DEMO_ENV_FILE.unlink(missing_ok=True)  # it points at servers that are gone now


if __name__ == "__main__":
    sys.exit(main())
