"""The operator's pages in a real browser: log in to a shop's admin, find a job by its SKU, read
its steps and events, see the batch's progress bar, run an action; and the API docs page, with
no network beyond loopback."""

import pytest
from django.db import connection

from batches.models import BatchJob
from marketplace.models import MarketplaceJob
from marketplace.states import JobStatus, TaskStatus
from tests.factories.marketplace import MarketplaceTaskFactory, job_walk_to, make_batch
from tests.factories.tenants import UserFactory

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PASSWORD = "operator-pw"


@pytest.fixture
def shop(live_tenant, no_broker):
    """A staff operator and a batch of three eBay jobs: one completed with its steps, one
    pending (to act on), one failed. Committed, so the web server sees them."""
    operator = UserFactory(username="operator", password=PASSWORD, is_staff=True, is_superuser=True)
    batch = make_batch(products=3, marketplaces=("ebay",))
    jobs = list(MarketplaceJob.objects.filter(batch=batch).select_related("product").order_by("pk"))
    done, pending, failed = jobs
    for position, name in enumerate(("inventory_item", "offer", "publish"), start=1):
        MarketplaceTaskFactory(
            job=done, position=position, name=name, status=TaskStatus.SUCCESS,
            description=f"eBay {name.replace('_', ' ')}",
        )  # fmt: skip
    job_walk_to(done, JobStatus.COMPLETED)
    job_walk_to(failed, JobStatus.FAILED)
    host = live_tenant.domains.get(is_primary=True).domain
    yield {"operator": operator, "batch": BatchJob.objects.get(pk=batch.pk), "done": done,
           "pending": pending, "host": host}  # fmt: skip
    connection.set_tenant(live_tenant)


def _login(browser, base: str) -> None:
    page = browser.page
    page.goto(f"{base}/admin/login/?next=/admin/")
    page.fill("#id_username", "operator")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(f"{base}/admin/")


def test_an_operator_finds_a_job_by_sku_reads_its_steps_and_events_and_cancels_another(
    browser, web_server, shop
):
    base = f"http://{shop['host']}:{web_server.port}"
    page = browser.page

    # given the operator logged in to the shop's admin
    _login(browser, base)
    browser.shot("1-logged-in")

    # when they search the job list for the completed job's SKU and open it
    page.goto(f"{base}/admin/marketplace/marketplacejob/")
    page.fill("#searchbar", shop["done"].product.sku)
    page.press("#searchbar", "Enter")
    page.wait_for_load_state()
    browser.shot("2-search-by-sku")
    rows = page.locator("#result_list tbody tr")
    assert rows.count() == 1, page.locator("#content").inner_text()
    rows.first.locator("th a, td a").first.click()

    # then its three steps and its events (pending → running → completed) are on the page
    page.wait_for_selector("#tasks-group")
    steps = page.locator("#tasks-group tbody tr.has_original, #tasks-group tbody tr.form-row")
    step_text = page.locator("#tasks-group").inner_text()
    assert all(name in step_text for name in ("inventory_item", "offer", "publish")), step_text
    assert steps.count() >= 3
    events_text = page.locator("#events-group").inner_text()
    assert "running" in events_text, events_text
    assert "completed" in events_text, events_text
    browser.shot("3-job-steps-and-events")

    # when they select the pending job in the list and run "cancel"
    page.goto(f"{base}/admin/marketplace/marketplacejob/?status__exact=pending")
    page.check(f"#result_list input[name=_selected_action][value='{shop['pending'].pk}']")
    page.select_option("select[name=action]", "cancel_jobs")
    page.click("button[name=index]")

    # then the page confirms it and the job is cancelled in the database
    message = page.locator("ul.messagelist li").first.inner_text()
    browser.shot("4-action-cancel")
    assert message == f"Cancelled job {shop['pending'].pk}.", message
    shop["pending"].refresh_from_db()
    assert shop["pending"].status == JobStatus.CANCELLED
    assert browser.blocked == []


def test_the_batch_page_shows_its_progress_bar(browser, web_server, shop):
    base = f"http://{shop['host']}:{web_server.port}"
    page = browser.page
    _login(browser, base)

    # when the operator opens the batch (2 of 3 jobs ended)
    page.goto(f"{base}/admin/batches/batchjob/{shop['batch'].pk}/change/")
    bar = page.locator("progress").first
    browser.shot("batch-progress")

    # then the progress bar is drawn, at two thirds
    box = bar.bounding_box()
    assert box is not None
    assert box["width"] > 20, box
    assert box["height"] > 4, box
    assert float(bar.get_attribute("value") or 0) == pytest.approx(66.67, abs=0.01)


def test_the_admin_is_rendered_with_its_stylesheets(browser, web_server, shop):
    base = f"http://{shop['host']}:{web_server.port}"
    page = browser.page

    # when the operator opens the batch page
    _login(browser, base)
    page.goto(f"{base}/admin/batches/batchjob/{shop['batch'].pk}/change/")
    page.wait_for_load_state("networkidle")
    browser.shot("admin-styles")

    # then every stylesheet it links is served, and the admin's own styles apply (its header)
    links = page.eval_on_selector_all("link[rel=stylesheet]", "links => links.map(l => l.href)")
    assert links
    served = dict(
        page.evaluate(
            "urls => Promise.all(urls.map(async url => [url, (await fetch(url)).status]))", links
        )
    )
    assert all(status == 200 for status in served.values()), served
    header = page.evaluate("getComputedStyle(document.querySelector('#header')).backgroundColor")
    assert header not in ("rgba(0, 0, 0, 0)", "transparent"), header


def test_the_api_docs_page_renders_with_no_network(browser, web_server, test_tenants):
    page = browser.page

    # when the API docs page is opened with the network cut (loopback only)
    page.goto(f"http://localhost:{web_server.port}/api/docs/")
    page.wait_for_load_state("networkidle")
    browser.shot("api-docs")

    # then Swagger UI drew the API's title and operations from local assets alone
    assert page.locator(".swagger-ui .info .title").count() == 1
    assert page.locator(".swagger-ui .opblock").count() > 5
    assert browser.blocked == []
