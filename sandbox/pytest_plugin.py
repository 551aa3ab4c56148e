"""pytest fixtures for the marketplace sandboxes.

Load with `pytest_plugins = ["sandbox.pytest_plugin"]` in the root conftest. Each fixture gives a
fresh server per test, listening on an ephemeral loopback port and stopped afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sandbox.ebay import EbaySandbox
from sandbox.etsy import EtsySandbox


@pytest.fixture
def ebay_sandbox() -> Iterator[EbaySandbox]:
    """A running `EbaySandbox` (seed 0); `.base_url`, `.issue_tokens()`, `.faults`, `.stats()`."""
    with EbaySandbox(seed=0) as server:
        yield server


@pytest.fixture
def etsy_sandbox() -> Iterator[EtsySandbox]:
    """A running `EtsySandbox` (seed 0); `.base_url` ends in /v3, `.issue_tokens()` has shop_id."""
    with EtsySandbox(seed=0) as server:
        yield server
