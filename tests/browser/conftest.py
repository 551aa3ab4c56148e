"""A real browser on the operator's pages: Debian's chromium driven by Playwright.

The pages are served by the ASGI server of the Procfile (daphne) on the test database, as in
production; the data is committed (`live_tenant`) so that process sees it. The browser reaches
loopback only: every other request is aborted and recorded, so a page that needs the network
shows it. Screenshots land in var/screenshots/, named after the test and the step."""

import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.db import connection, connections

from tests.integration.servers import AsgiServer
from tests.integration.workers import ROOT, worker_environment

SCREENSHOTS = ROOT / "var" / "screenshots"
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def chromium_path() -> str | None:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None


@pytest.fixture(scope="session")
def web_server(test_tenants, django_db_blocker) -> Iterator[AsgiServer]:
    server = AsgiServer(worker_environment({}))
    yield server
    server.stop()
    with django_db_blocker.unblock():
        _wait_for_other_sessions_to_end()


def _wait_for_other_sessions_to_end(timeout_s: float = 10.0) -> None:
    """The server's PostgreSQL sessions end a moment after its process: wait for them, or the
    test database cannot be dropped at the end of the run."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            (others,) = cursor.fetchone()
        if not others:
            return
        time.sleep(0.1)


class Browser:
    """One page of a fresh context, its blocked requests and a screenshot helper."""

    def __init__(self, page, blocked: list[str], name: str) -> None:
        self.page, self.blocked, self.name = page, blocked, name

    def shot(self, step: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{self.name}-{step}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path


@pytest.fixture
def browser(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Browser]:
    executable = chromium_path()
    if executable is None:
        pytest.skip(
            "no chromium here: `make test` installs Debian's package as root with apt-get "
            "(scripts/ensure-chromium.sh); Playwright never downloads a browser"
        )
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop in this thread; the test's own database calls
    # are still synchronous. https://docs.djangoproject.com/en/5.2/topics/async/#async-safety
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    blocked: list[str] = []

    def only_loopback(route) -> None:
        host = (urlsplit(route.request.url).hostname or "").rstrip(".")
        if host in LOOPBACK or host.endswith(".localhost"):
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=executable,
            headless=True,
            # Root in a container has no user namespace for chromium's sandbox.
            args=["--no-sandbox", "--disable-dev-shm-usage"],
        )
        context = chromium.new_context(viewport={"width": 1280, "height": 900})
        context.route("**/*", only_loopback)
        context.set_default_timeout(15_000)
        try:
            yield Browser(context.new_page(), blocked, request.node.name)
        finally:
            # While Playwright's loop runs, Django keys its connections by that context: close
            # the ones opened here, or the test database cannot be dropped at the end.
            connections.close_all()
            context.close()
            chromium.close()
