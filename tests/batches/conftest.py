import pytest

from tests.factories.marketplace import marketplaces_connect


@pytest.fixture(autouse=True)
def _marketplaces_connected(request: pytest.FixtureRequest) -> None:
    """Batch tests are about batches: their shop is connected to every marketplace, with its
    listing setup, so readiness stands aside (tests/marketplace/services/test_readiness.py)."""
    if "tenant" in request.fixturenames:
        request.getfixturevalue("tenant")
        marketplaces_connect(["ebay", "etsy", "vinted"])
