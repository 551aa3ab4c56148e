"""The process's background loop: a coroutine whose caller stopped waiting does not go on."""

import asyncio
import threading

import pytest

from core.background_loop import background_loop


def test_a_timed_out_coroutine_is_cancelled():
    # given a coroutine that would run far longer than its caller waits
    cancelled = threading.Event()

    async def slow() -> None:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    # when
    with pytest.raises(TimeoutError):
        background_loop().run(slow(), timeout=0.1)
    # then it is cancelled, not left running on the loop
    assert cancelled.wait(timeout=5)


def test_a_result_comes_back():
    async def answer() -> int:
        return 42

    assert background_loop().run(answer(), timeout=5) == 42
