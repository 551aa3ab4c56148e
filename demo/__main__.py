"""`python -m demo` (or `make demo`): bring the system up and run a real batch end to end.

It provisions a demo tenant with products, starts the eBay/Etsy sandboxes (with injected
faults), the web server, the workers and beat (honcho over the Procfile), and the Vinted
extension simulator, then publishes every product to Vinted, eBay and Etsy through the REST API
with a live progress bar, and prints a summary. Exits non-zero if the batch did not finish."""

import argparse
import os
import sys
import time

from demo.embedded import EmbeddedServices, missing_services
from demo.processes import Children, free_port, wait_port


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m demo", description=__doc__)
    parser.add_argument("--products", type=int, default=20, help="products to publish")
    parser.add_argument("--short", action="store_true", help="a small, quick run (CI)")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds for the batch")
    parser.add_argument("--error-rate", type=float, default=0.08, help="sandbox 5xx share")
    parser.add_argument("--rate-limit-rate", type=float, default=0.04, help="sandbox 429 share")
    parser.add_argument(
        "--keep-running", action="store_true", help="leave the system up until Ctrl-C"
    )
    args = parser.parse_args(argv)
    if args.short:
        args.products = min(args.products, 4)
        args.timeout = min(args.timeout, 180.0)
    return args


def demo_environment(*, ebay_port: int, etsy_port: int) -> dict[str, str]:
    env = {
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DATABASE_URL": os.environ.get(
            "DEMO_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/relist_demo"
        ),
        "EBAY_API_BASE_URL": f"http://127.0.0.1:{ebay_port}",
        "EBAY_AUTH_BASE_URL": f"http://127.0.0.1:{ebay_port}",
        "ETSY_API_BASE_URL": f"http://127.0.0.1:{etsy_port}/v3",
        "ETSY_TOKEN_URL": f"http://127.0.0.1:{etsy_port}/v3/public/oauth/token",
        # Gentle anti-bot pacing and quick retries, so the demo shows them in seconds.
        "VINTED_MIN_SPACING_S": "0.1",
        "VINTED_SPACING_JITTER_S": "0.1",
        "RELIST_RETRY_BACKOFF_SCALE_S": "0.25",
        "RELIST_SWEEP_INTERVAL_S": "10",
        "PYTHONUNBUFFERED": "1",
    }
    return {**os.environ, **env}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    ebay_port, etsy_port, web_port = free_port(), free_port(), free_port()
    embedded = EmbeddedServices()
    need_postgres, need_redis = missing_services(dict(os.environ))
    if need_postgres or need_redis:
        missing = [
            name for name, gone in (("PostgreSQL", need_postgres), ("Redis", need_redis)) if gone
        ]
        print(f"No {' or '.join(missing)} answers locally: starting embedded ones in var/embedded.")
        os.environ.update(embedded.environment(need_postgres=need_postgres, need_redis=need_redis))
    env = demo_environment(ebay_port=ebay_port, etsy_port=etsy_port)
    os.environ.update(env)
    from demo import run  # noqa: PLC0415 - Django is configured by the environment above

    children = Children()
    started = time.monotonic()
    try:
        run.prepare_database()
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
            "system", ["-m", "honcho", "start", "-f", "Procfile", "-p", str(web_port)], env
        )
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
            f"System up in {time.monotonic() - started:.1f}s: web http://{seeded.domain}:{web_port}/api/docs/"
        )
        finished = run.publish_and_watch(seeded, web_port=web_port, timeout=args.timeout)
        if args.keep_running:
            print("The system keeps running; logs in var/demo/. Ctrl-C stops it.")
            while True:
                time.sleep(3600)
        return 0 if finished else 1
    except KeyboardInterrupt:
        print("\nStopping…")
        return 130
    finally:
        children.stop()
        embedded.stop()


if __name__ == "__main__":
    sys.exit(main())
