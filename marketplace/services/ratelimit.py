"""Rate limits per (tenant, marketplace), shared by every worker through Redis.

A token bucket in one Lua script (atomic in Redis, one round trip per call). No worker sleeps on
another job's budget (DESIGN §3 "Fairness"): the first call of a client that finds the bucket
empty defers its job by the exact wait (pending again, no attempt used, the thread free at once).
Only a client that already spent a token in this step may wait inline, at most the refill of one
token (`max_inline_wait`), so a multi-call step always progresses instead of re-running forever.
A spent daily budget always defers. Etsy's published budget: 10 requests/s and 10,000/day per app:
https://developers.etsy.com/documentation/essentials/rate-limits"""

import random
import secrets
import threading
import time
from functools import cache
from typing import Any

import redis
from django.conf import settings
from django.db import connection

from core.errors import JobDeferred
from core.redis_clients import redis_from_url

# KEYS[1] bucket; ARGV: rate/s, burst, now (s, float), cost. Returns the wait in ms (0 = go).
_BUCKET = """
local rate, burst, now, cost = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]),
  tonumber(ARGV[4])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1]) or burst
local ts = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate)
local wait = 0
if tokens >= cost then tokens = tokens - cost else wait = (cost - tokens) / rate end
if wait == 0 then
  redis.call('HSET', KEYS[1], 'tokens', tokens, 'ts', now)
  redis.call('EXPIRE', KEYS[1], math.ceil(burst / rate) + 60)
end
return math.ceil(wait * 1000)
"""
# KEYS[1] daily counter; ARGV: limit, seconds to the end of the day. Returns 1 if allowed.
_DAILY = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
if n > tonumber(ARGV[1]) then redis.call('DECR', KEYS[1]) return 0 end
return 1
"""


def bucket_key(*, tenant: str, marketplace: str) -> str:
    return f"relist:ratelimit:{tenant}:{marketplace}"


# A token taken for a job's first call in the same round trip as its worker slot
# (tenant_slot_take): the job's first `acquire` on that bucket spends it instead of asking Redis.
# Per thread, set and cleared by the runner around one job.
_prepaid = threading.local()


def token_prepaid_clear() -> None:
    """The job is over: a prepaid token it did not spend is dropped (never carried over)."""
    _prepaid.key = None


def _token_prepaid_take(key: str) -> bool:
    if getattr(_prepaid, "key", None) == key:
        _prepaid.key = None
        return True
    return False


@cache
def redis_client() -> redis.Redis:
    return redis_from_url(settings.REDIS_URL)


@cache
def _scripts() -> tuple[Any, Any]:
    client = redis_client()
    return client.register_script(_BUCKET), client.register_script(_DAILY)


class TokenBucketLimiter:
    def __init__(
        self,
        *,
        marketplace: str,
        tenant: str | None = None,
        per_second: float,
        burst: int,
        per_day: int | None = None,
        max_inline_wait: float | None = None,
    ) -> None:
        tenant = tenant or connection.schema_name
        self.key = bucket_key(tenant=tenant, marketplace=marketplace)
        self.marketplace = marketplace
        self.per_second = per_second
        self.burst = burst
        self.per_day = per_day
        # Inline waits are only for the later calls of one step: one token's refill at most.
        self.max_inline_wait = (1.0 / per_second) if max_inline_wait is None else max_inline_wait
        self._spent = False

    @classmethod
    def for_marketplace(cls, marketplace: str) -> "TokenBucketLimiter":
        return cls(marketplace=marketplace, **settings.MARKETPLACE_RATE_LIMITS[marketplace])

    def acquire(self) -> None:
        if self.per_day is None and _token_prepaid_take(self.key):
            self._spent = True  # taken with the job's worker slot
            return
        bucket, daily = _scripts()
        if self.per_day is not None:
            now = time.time()
            day_left = int(86400 - now % 86400) + 1
            day_key = f"{self.key}:day:{int(now // 86400)}"
            if not daily(keys=[day_key], args=[self.per_day, day_left]):
                raise JobDeferred(
                    f"The daily {self.marketplace} budget of {self.per_day} calls is spent.",
                    delay_s=day_left,
                )
        while True:
            wait_ms = bucket(keys=[self.key], args=[self.per_second, self.burst, time.time(), 1])
            if wait_ms == 0:
                self._spent = True
                return
            if not self._spent or wait_ms / 1000 > self.max_inline_wait:
                raise JobDeferred(
                    f"The {self.marketplace} rate budget is spent for now.", delay_s=wait_ms / 1000
                )
            time.sleep(wait_ms / 1000)


# Vinted pacing: one command at a time per tenant's extension, and a minimum spacing (plus
# jitter) between two commands, shared by every worker. KEYS: lock, next-allowed time.
# ARGV: token, now (ms), lease (ms). Returns 0 when the turn is taken, -1 when another command
# holds it (its lease says nothing about when it ends), else the spacing left in ms.
_TURN_TAKE = """
if redis.call('EXISTS', KEYS[1]) == 1 then return -1 end
local next_at = tonumber(redis.call('GET', KEYS[2]) or '0')
local now = tonumber(ARGV[2])
if now < next_at then return next_at - now end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
return 0
"""
# ARGV: token, next-allowed time (ms), its expiry (ms).
_TURN_GIVE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
return 1
"""


class VintedPacer:
    """Serialises one tenant's Vinted commands with anti-bot spacing (MARKETPLACES.md §4).

    A turn not yet due defers the job by the exact wait (the spacing left), and a turn held by
    another command defers it by `HELD_RETRY_S`: no thread sleeps on a shop's turn. Only a step
    that already sent a command may wait its own spacing inline (`max_wait_s`, set by the client
    after its first call), so a multi-call step is never re-run forever."""

    HELD_RETRY_S = 5.0

    def __init__(self, *, tenant: str, lease_s: float, max_wait_s: float = 0.0) -> None:
        self.lock_key = f"relist:vinted:turn:{tenant}"
        self.next_key = f"relist:vinted:next:{tenant}"
        self.lease_ms = int(lease_s * 1000) + 5000
        self.max_wait_s = max_wait_s

    def take(self) -> str:
        take, _ = _turn_scripts()
        token = secrets.token_hex(8)
        waited = 0.0
        while True:
            wait_ms = take(
                keys=[self.lock_key, self.next_key],
                args=[token, int(time.time() * 1000), self.lease_ms],
            )
            if wait_ms == 0:
                return token
            # Held: poll briefly (a command takes well under a second); spacing: its exact wait.
            pause = 0.05 if wait_ms < 0 else min(wait_ms / 1000, 0.05)
            if waited + pause > self.max_wait_s:
                raise self._deferral(held=wait_ms < 0, wait_s=wait_ms / 1000)
            time.sleep(pause)
            waited += pause

    def _deferral(self, *, held: bool, wait_s: float) -> JobDeferred:
        """Decided from the script's one answer: reading the lock again here raced with its
        release, and a free turn was once taken for a held one (a 70 s lease as the delay)."""
        if held:
            return JobDeferred(
                "Another Vinted command of this shop is running.", delay_s=self.HELD_RETRY_S
            )
        return JobDeferred("This shop's next Vinted turn is not due yet.", delay_s=wait_s)

    def give(self, token: str) -> None:
        _, give = _turn_scripts()
        spacing = settings.VINTED_MIN_SPACING_S + random.uniform(
            0, settings.VINTED_SPACING_JITTER_S
        )
        next_at = int((time.time() + spacing) * 1000)
        give(keys=[self.lock_key, self.next_key], args=[token, next_at, int(spacing * 1000) + 1])


@cache
def _turn_scripts() -> tuple[Any, Any]:
    client = redis_client()
    return client.register_script(_TURN_TAKE), client.register_script(_TURN_GIVE)


# Worker slots per (tenant, marketplace): a sorted set of holders scored by their expiry, so a
# slot of a killed worker frees itself (the TTL safety net) while a live one is released in
# `finally`. KEYS[1] set; ARGV: holder, now (ms), expiry (ms), cap. Returns 0 when all are held,
# 1 when taken. With KEYS[2] (the marketplace's token bucket) and ARGV rate/s, burst, now (s):
# also takes one token for the job's first call when one is there (returns 2), exactly as
# _BUCKET would; an empty bucket takes nothing (returns 1) and the first call asks as usual.
# The first call's token, with _BUCKET's arithmetic: 2 when taken, 1 when the bucket is empty.
# Shared by the slot take and the hand-over's pass-on.
_FIRST_TOKEN = """
local function first_token(key, rate, burst, now)
  local state = redis.call('HMGET', key, 'tokens', 'ts')
  local tokens = tonumber(state[1]) or burst
  local ts = tonumber(state[2]) or now
  tokens = math.min(burst, tokens + math.max(0, now - ts) * rate)
  if tokens < 1 then return 1 end
  redis.call('HSET', key, 'tokens', tokens - 1, 'ts', now)
  redis.call('EXPIRE', key, math.ceil(burst / rate) + 60)
  return 2
end
"""
_SLOT_TAKE = (
    _FIRST_TOKEN
    + """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[4]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
redis.call('PEXPIREAT', KEYS[1], ARGV[3])
if #KEYS < 2 then return 1 end
return first_token(KEYS[2], tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7]))
"""
)


def _first_token_bucket(
    *, tenant: str, marketplace: str, now: float
) -> tuple[list[str], list[Any]]:
    """The bucket key and its script arguments (rate/s, burst, now) when the marketplace has a
    per-second budget only (eBay), so a first call's token can be prepaid; else nothing."""
    limits = settings.MARKETPLACE_RATE_LIMITS.get(marketplace)
    if limits is None or limits.get("per_day") is not None:
        return [], []
    return [bucket_key(tenant=tenant, marketplace=marketplace)], [
        limits["per_second"],
        limits["burst"],
        now,
    ]


@cache
def _slot_script() -> Any:
    return redis_client().register_script(_SLOT_TAKE)


def tenant_slot_key(*, tenant: str, marketplace: str) -> str:
    return f"relist:slots:{tenant}:{marketplace}"


def tenant_slots(marketplace: str) -> int:
    """Worker slots one tenant may hold on `marketplace` (RELIST_TENANT_SLOTS_PER_MARKETPLACE;
    Vinted: RELIST_TENANT_SLOTS_VINTED, its shop runs one command at a time)."""
    if marketplace == "vinted":
        return int(settings.RELIST_TENANT_SLOTS_VINTED)
    return int(settings.RELIST_TENANT_SLOTS_PER_MARKETPLACE)


def trigger_window(marketplace: str) -> int:
    """Triggers of one tenant in flight on `marketplace`: RELIST_TENANT_TRIGGER_WINDOW, or the
    marketplace's slots when it is 0 (a wider window only queues triggers the cap bounces)."""
    return int(settings.RELIST_TENANT_TRIGGER_WINDOW) or tenant_slots(marketplace)


def tenant_slot_take(*, tenant: str, marketplace: str, holder: str) -> bool:
    """Take one of the tenant's `tenant_slots(marketplace)` worker slots (False: all held,
    the caller defers its job). Held at most the task's hard time limit. For a
    marketplace with a per-second budget only (eBay), the same round trip takes the token of
    the job's first call when the bucket has one (a prepaid token for this thread, spent by the
    first `acquire` or dropped by `token_prepaid_clear`)."""
    now = time.time()
    now_ms = int(now * 1000)
    expiry_ms = now_ms + int(settings.CELERY_TASK_TIME_LIMIT * 1000)
    keys = [tenant_slot_key(tenant=tenant, marketplace=marketplace)]
    args: list[Any] = [
        holder,
        now_ms,
        expiry_ms,
        tenant_slots(marketplace),
    ]
    bucket, bucket_args = _first_token_bucket(tenant=tenant, marketplace=marketplace, now=now)
    keys += bucket
    args += bucket_args
    taken = int(_slot_script()(keys=keys, args=args))
    _prepaid.key = keys[1] if taken == 2 else None
    return taken > 0


def tenant_slot_give(*, tenant: str, marketplace: str, holder: str) -> None:
    redis_client().zrem(tenant_slot_key(tenant=tenant, marketplace=marketplace), holder)


def tenant_slots_held(*, tenant: str, marketplace: str) -> int:
    key = tenant_slot_key(tenant=tenant, marketplace=marketplace)
    return int(redis_client().zcount(key, int(time.time() * 1000), "+inf"))


# Triggers in flight per (tenant, marketplace) (docs/engine.md "Fairness"): a sorted set of job
# ids scored by when their trigger counts as lost. KEYS[1] set, KEYS[2] "held back" flag;
# ARGV: now (ms), expiry (ms), window, resend (1: a member may be sent again), ids... Returns the
# ids admitted; any id left out bumps the flag (a counter), so the runner tops the window up.
_WINDOW_ADMIT = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
local window, resend, admitted, held = tonumber(ARGV[3]), ARGV[4] == '1', {}, false
for i = 5, #ARGV do
  local id = ARGV[i]
  if redis.call('ZSCORE', KEYS[1], id) then
    if resend then redis.call('ZADD', KEYS[1], ARGV[2], id) table.insert(admitted, id) end
  elseif redis.call('ZCARD', KEYS[1]) < window then
    redis.call('ZADD', KEYS[1], ARGV[2], id)
    table.insert(admitted, id)
  else
    held = true
  end
end
if held then redis.call('INCR', KEYS[2]) end
redis.call('PEXPIREAT', KEYS[1], ARGV[2])
return admitted
"""


@cache
def _window_script() -> Any:
    return redis_client().register_script(_WINDOW_ADMIT)


def _window_keys(tenant: str, marketplace: str) -> list[str]:
    base = f"relist:window:{tenant}:{marketplace}"
    return [base, f"{base}:held"]


def trigger_window_admit(
    *, tenant: str, marketplace: str, job_ids: list[int], lost_after_s: float, resend: bool
) -> set[int]:
    """The jobs whose trigger may be sent now: at most `trigger_window(marketplace)` of the
    tenant's triggers are in flight on a marketplace; a job already in the window may be sent
    again when `resend` (the sweep's lost trigger). Each entry lapses after `lost_after_s`."""
    now_ms = int(time.time() * 1000)
    admitted = _window_script()(
        keys=_window_keys(tenant, marketplace),
        args=[
            now_ms,
            now_ms + int(lost_after_s * 1000),
            trigger_window(marketplace),
            "1" if resend else "0",
            *job_ids,
        ],
    )
    return {int(job_id) for job_id in admitted}


def trigger_window_leave(
    *,
    tenant: str,
    marketplace: str,
    job_id: int,
    slot_holder: str | None = None,
    slot_renew: str | None = None,
) -> tuple[list[int], str | None, list[int]]:
    """The job's trigger is spent: leave the window (and give back the run's worker slot,
    `slot_holder`, or renew its expiry for the job handed over next, `slot_renew`, in the same
    round trip). Returns the ids still in the window, the "held back" mark (None: nothing of
    the tenant's is held back) and the ids in hand-over backlogs (`trigger_window_take`). The
    mark stays set: the caller clears it with `trigger_window_clear_held` once it found fewer
    held-back jobs than free places."""
    window, held = _window_keys(tenant, marketplace)
    taken = _taken_key(tenant, marketplace)
    pipe = redis_client().pipeline()
    slots = tenant_slot_key(tenant=tenant, marketplace=marketplace)
    if slot_holder is not None:
        pipe.zrem(slots, slot_holder)
    if slot_renew is not None:
        expiry_ms = int((time.time() + settings.CELERY_TASK_TIME_LIMIT) * 1000)
        pipe.zadd(slots, {slot_renew: expiry_ms}, xx=True)
        pipe.pexpireat(slots, expiry_ms)
    pipe.zrem(window, job_id)
    pipe.zrange(window, 0, -1)
    pipe.get(held)
    pipe.zrangebyscore(taken, int(time.time() * 1000), "+inf")
    *_, members, mark, in_backlogs = pipe.execute()
    return (
        [int(member) for member in members],
        None if mark is None else mark.decode(),
        [int(member) for member in in_backlogs],
    )


def _taken_key(tenant: str, marketplace: str) -> str:
    return f"relist:window:{tenant}:{marketplace}:taken"


def trigger_window_take(
    *, tenant: str, marketplace: str, job_ids: list[int], lost_after_s: float
) -> None:
    """Jobs a hand-over took into a thread's backlog: other top-ups leave them out (they read
    the set with their window leave) until they are passed on into the window, released, or
    lapse after `lost_after_s` (the thread died: the sweep re-sends them)."""
    if not job_ids:
        return
    taken = _taken_key(tenant, marketplace)
    now_ms = int(time.time() * 1000)
    until_ms = now_ms + int(lost_after_s * 1000)
    pipe = redis_client().pipeline(transaction=False)
    pipe.zremrangebyscore(taken, "-inf", now_ms)
    pipe.zadd(taken, dict.fromkeys(map(str, job_ids), until_ms))
    pipe.pexpireat(taken, until_ms)
    pipe.execute()


def trigger_window_untake(*, tenant: str, marketplace: str, job_ids: list[int]) -> None:
    """A hand-over's backlog is released: its jobs are anybody's again."""
    if job_ids:
        redis_client().zrem(_taken_key(tenant, marketplace), *map(str, job_ids))


# A hand-over from a thread's backlog (trigger_window_pass_on). KEYS: window, taken, slots and,
# for a marketplace with a per-second budget only, its token bucket; ARGV: the finished job,
# the next, the window entry's lapse (ms), the slot holder, its expiry (ms) and, with the
# bucket, rate/s, burst, now (s). Returns {2 when a token for the next job's first call was
# taken (as _SLOT_TAKE does) else 1, the window's count}.
_PASS_ON = (
    _FIRST_TOKEN
    + """
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[2])
redis.call('PEXPIREAT', KEYS[1], ARGV[3])
redis.call('ZREM', KEYS[2], ARGV[2])
redis.call('ZADD', KEYS[3], 'XX', ARGV[5], ARGV[4])
redis.call('PEXPIREAT', KEYS[3], ARGV[5])
local members = redis.call('ZCARD', KEYS[1])
if #KEYS < 4 then return {1, members} end
return {first_token(KEYS[4], tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])), members}
"""
)


@cache
def _pass_on_script() -> Any:
    return redis_client().register_script(_PASS_ON)


def trigger_window_pass_on(
    *,
    tenant: str,
    marketplace: str,
    job_id: int,
    following: int,
    lost_after_s: float,
    slot_renew: str,
) -> int:
    """The job's place in the window passes to `following`, which the same thread runs next
    (a hand-over from its backlog): the window's count is unchanged. In the same round trip
    the worker slot's expiry is renewed and, as `tenant_slot_take` does, a token for the next
    job's first call is taken when the bucket has one (a prepaid token for this thread).
    Returns the window's count."""
    window, _ = _window_keys(tenant, marketplace)
    now = time.time()
    keys = [
        window,
        _taken_key(tenant, marketplace),
        tenant_slot_key(tenant=tenant, marketplace=marketplace),
    ]
    args: list[Any] = [
        job_id,
        following,
        int((now + lost_after_s) * 1000),
        slot_renew,
        int((now + settings.CELERY_TASK_TIME_LIMIT) * 1000),
    ]
    bucket, bucket_args = _first_token_bucket(tenant=tenant, marketplace=marketplace, now=now)
    keys += bucket
    args += bucket_args
    taken, members = _pass_on_script()(keys=keys, args=args)
    _prepaid.key = keys[3] if int(taken) == 2 else None
    return int(members)


# KEYS[1] the "held back" flag; ARGV[1] the mark read. Deleted only if nobody held back more
# since (the admit script bumps it), so a concurrent hold is never lost.
_HELD_CLEAR = """
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1
"""


@cache
def _held_clear_script() -> Any:
    return redis_client().register_script(_HELD_CLEAR)


def trigger_window_clear_held(*, tenant: str, marketplace: str, mark: str) -> None:
    _held_clear_script()(keys=[_window_keys(tenant, marketplace)[1]], args=[mark])


def trigger_window_keep(
    *,
    tenant: str,
    marketplace: str,
    job_id: int,
    until_s: float,
    slot_holder: str | None = None,
) -> None:
    """The job's trigger comes back later (a deferral or retry countdown): it stays counted.
    The run's worker slot is given back in the same round trip."""
    window, _ = _window_keys(tenant, marketplace)
    pipe = redis_client().pipeline()
    if slot_holder is not None:
        pipe.zrem(tenant_slot_key(tenant=tenant, marketplace=marketplace), slot_holder)
    pipe.zadd(window, {str(job_id): int(until_s * 1000)}, xx=True)
    pipe.execute()
