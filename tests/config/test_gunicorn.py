"""config/gunicorn.py's worker hook: the URL configurations loaded and everything loaded so far
frozen out of the garbage collector's traversals (the served tests run it in real workers)."""

import gc
import importlib
import sys
import warnings
from collections.abc import Iterator

import pytest

gunicorn_config = importlib.import_module("config.gunicorn")


@pytest.fixture
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    # Garbage an earlier test left (an unclosed socket's ResourceWarning, an error under the
    # suite's filterwarnings) is collected here, not blamed on the hook's own collection.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()
    yield
    gc.unfreeze()  # the suite's own process keeps its usual collector


def test_worker_init_loads_the_urlconfs_and_freezes_what_is_loaded(unfrozen, settings):
    # given a process whose collector tracks everything
    assert gc.get_freeze_count() == 0
    # when the worker hook runs
    gunicorn_config.post_worker_init(worker=None)
    # then both URL configurations are imported and the loaded objects are frozen
    assert {settings.ROOT_URLCONF, settings.PUBLIC_SCHEMA_URLCONF} <= set(sys.modules)
    assert gc.get_freeze_count() > 10_000
