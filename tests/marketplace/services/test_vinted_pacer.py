"""VintedPacer on the real Redis: one command at a time per tenant's extension, a minimum spacing
(plus jitter) between two of them, and tenants that never wait on each other."""

import time
import uuid
from collections.abc import Callable, Iterator

import pytest

from core.errors import JobDeferred
from marketplace.services import ratelimit
from marketplace.services.ratelimit import VintedPacer, redis_client

SPACING_S = 0.2


@pytest.fixture
def tenant_name() -> Iterator[Callable[[], str]]:
    """Fresh tenant names, so no other test's turns are seen; their keys are removed after."""
    made: list[str] = []

    def make() -> str:
        made.append(f"pacer_{uuid.uuid4().hex[:8]}")
        return made[-1]

    yield make
    for name in made:
        redis_client().delete(f"relist:vinted:turn:{name}", f"relist:vinted:next:{name}")


def _pacer(tenant: str, *, max_wait_s: float = 30.0) -> VintedPacer:
    return VintedPacer(tenant=tenant, lease_s=5, max_wait_s=max_wait_s)


@pytest.fixture
def spacing(settings) -> float:
    settings.VINTED_MIN_SPACING_S = SPACING_S
    settings.VINTED_SPACING_JITTER_S = 0
    return SPACING_S


def test_two_turns_of_one_tenant_are_spaced_by_the_minimum(tenant_name, spacing):
    # given a turn taken by one worker
    pacer = _pacer(tenant_name())
    token = pacer.take()
    # when it is given back and the next command asks for a turn
    given_at = time.monotonic()
    pacer.give(token)
    pacer.take()
    waited = time.monotonic() - given_at
    # then the second turn started no sooner than the minimum spacing (1 ms of clock rounding)
    assert spacing - 0.001 <= waited < spacing + 0.2


def test_the_spacing_adds_a_jitter_within_its_bound(tenant_name, settings, monkeypatch):
    # given a spacing of 0.1 s plus a jitter of up to 0.2 s, whose draw is the maximum
    settings.VINTED_MIN_SPACING_S = 0.1
    settings.VINTED_SPACING_JITTER_S = 0.2
    monkeypatch.setattr(ratelimit.random, "uniform", lambda low, high: high)
    pacer = _pacer(tenant_name())
    # when
    given_at = time.monotonic()
    pacer.give(pacer.take())
    pacer.take()
    waited = time.monotonic() - given_at
    # then
    assert 0.3 - 0.001 <= waited < 0.5


def test_one_command_at_a_time_per_tenant(tenant_name, spacing):
    # given a turn held by a running command
    shop = tenant_name()
    _pacer(shop).take()
    # when another worker of the same tenant asks for a turn
    started = time.monotonic()
    with pytest.raises(JobDeferred) as deferred:
        _pacer(shop, max_wait_s=0.2).take()
    # then it waited its maximum, then deferred its job (no attempt used)
    assert time.monotonic() - started >= 0.2
    assert deferred.value.reason == "Another Vinted command of this shop is running."
    assert deferred.value.delay_s == 5


def test_different_tenants_do_not_wait_on_each_other(tenant_name, settings):
    # given tenant A in the middle of a command, with a whole second of spacing after it
    settings.VINTED_MIN_SPACING_S = 1.0
    settings.VINTED_SPACING_JITTER_S = 0
    shop_a = _pacer(tenant_name())
    # B and C may not wait at all: any wait on A's turn or spacing would defer them instead
    shop_b, shop_c = _pacer(tenant_name(), max_wait_s=0), _pacer(tenant_name(), max_wait_s=0)
    token_a = shop_a.take()
    # when B takes a turn while A's command runs, and C right after A's ended
    shop_b.take()
    shop_a.give(token_a)
    shop_c.take()
    # then neither was deferred (no clock involved), while A itself is spaced for the next second
    assert 900 < redis_client().pttl(shop_a.next_key) <= 1001


def test_a_turn_given_back_after_its_lease_expired_does_not_free_the_next_holder(
    tenant_name, spacing
):
    # given a turn whose lease expired (its worker stalled) and that another worker then took
    shop = tenant_name()
    stalled = _pacer(shop)
    stale_token = stalled.take()
    redis_client().delete(stalled.lock_key)
    _pacer(shop).take()
    # when the stalled worker gives its turn back
    stalled.give(stale_token)
    # then the other worker still holds the turn: a third one waits and defers
    with pytest.raises(JobDeferred):
        _pacer(shop, max_wait_s=0.1).take()
