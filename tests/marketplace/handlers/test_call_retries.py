"""Each read gets its own attempts (handlers.call_retries): a GET that meets a transient error is
repeated inline, a write never is (its answer may be lost after it was applied: the step's retry
reconciles it), and a Retry-After beyond the inline cap goes to the engine's backoff."""

import pytest

from core.errors import TransientMarketplaceError
from marketplace.handlers import call_retries
from marketplace.handlers.vinted import client as vinted_client
from marketplace.handlers.vinted.client import RelayReply, VintedClient
from tests.marketplace.handlers.test_vinted_client import (
    _deliver_to_the_picked_session,
    tenant_schema,  # noqa: F401 - the fixture
)

FAIL = RelayReply(acked=True, ok=False, status=500, error="Internal Server Error")
OK = RelayReply(acked=True, ok=True, status=200, body={"id": 1})


@pytest.fixture
def replies(monkeypatch, settings):
    """The extension answers with the queued replies, one per command; quick backoff."""
    settings.RELIST_SAFE_CALL_BACKOFF_CAP_S = 0.05
    queued: list[RelayReply] = []
    sent: list[str] = []

    def roundtrip(channel, command, *, ack_s, result_s):
        sent.append(command["method"])
        return queued.pop(0)

    monkeypatch.setattr(vinted_client, "_roundtrip", roundtrip)
    _deliver_to_the_picked_session(monkeypatch)
    return queued, sent


def test_a_read_is_repeated_until_it_succeeds(tenant_schema, replies):  # noqa: F811
    queued, sent = replies
    queued.extend([FAIL, FAIL, OK])
    # when / then one call returns, after three commands
    assert VintedClient(tenant=tenant_schema).call("GET", "/api/v2/users/current") == {"id": 1}
    assert sent == ["GET", "GET", "GET"]


def test_a_read_gives_up_after_its_own_retries(tenant_schema, replies, settings):  # noqa: F811
    queued, sent = replies
    settings.RELIST_SAFE_CALL_RETRIES = 2
    queued.extend([FAIL] * 5)
    with pytest.raises(TransientMarketplaceError):
        VintedClient(tenant=tenant_schema).call("GET", "/api/v2/users/current")
    assert len(sent) == 3


def test_a_write_is_never_repeated_inline(tenant_schema, replies):  # noqa: F811
    queued, sent = replies
    queued.extend([FAIL, OK])
    with pytest.raises(TransientMarketplaceError):
        VintedClient(tenant=tenant_schema).call("POST", "/api/v2/item_upload/items", body={})
    assert sent == ["POST"]


def test_a_long_retry_after_goes_to_the_engine_not_a_sleep(tenant_schema, replies):  # noqa: F811
    queued, sent = replies
    queued.extend([RelayReply(acked=True, ok=False, status=429, headers={"Retry-After": "30"}), OK])
    with pytest.raises(TransientMarketplaceError) as error:
        VintedClient(tenant=tenant_schema).call("GET", "/api/v2/users/current")
    assert (error.value.retry_after, sent) == (30.0, ["GET"])


def test_the_inline_backoff_is_jittered_and_capped(settings):
    settings.RELIST_SAFE_CALL_BACKOFF_CAP_S = 1.0
    waits = [
        call_retries.backoff_s(retry, retry_after=None) for retry in range(8) for _ in range(20)
    ]
    assert min(waits) >= 0
    assert max(waits) <= 1.0
    assert len({round(w, 6) for w in waits}) > 100  # jittered, not a fixed schedule
    assert call_retries.backoff_s(0, retry_after=0.5) == 0.5
