"""eBay's Marketplace Account Deletion endpoint, on the public host, without authentication:
the validation challenge and the deletion of the user's data in every shop."""

import hashlib

import pytest

from marketplace.models import MarketplaceConnection, Order
from tenants.context import tenant_context
from tests.factories.marketplace import ConnectionFactory
from tests.operators import PUBLIC_HOST, host_client

URL = "/api/ebay/account-deletion/"
TOKEN = "relist-verification-token-0123456789abcdef"
ENDPOINT = "https://relist.example/api/ebay/account-deletion/"


@pytest.fixture
def configured(settings):
    settings.EBAY_DELETION_VERIFICATION_TOKEN = TOKEN
    settings.EBAY_DELETION_ENDPOINT_URL = ENDPOINT


def test_the_challenge_is_answered_with_the_sha256_of_code_token_and_endpoint(tenant, configured):
    # when eBay validates the endpoint
    response = host_client(host=PUBLIC_HOST).get(URL, {"challenge_code": "a8628072-3d33-45ee"})
    # then, without any credentials, the hash eBay expects
    expected = hashlib.sha256(f"a8628072-3d33-45ee{TOKEN}{ENDPOINT}".encode()).hexdigest()
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    assert response.json() == {"challengeResponse": expected}


def test_a_challenge_without_code_or_token_is_refused(tenant, settings):
    settings.EBAY_DELETION_VERIFICATION_TOKEN = ""
    response = host_client(host=PUBLIC_HOST).get(URL, {"challenge_code": "x"})
    assert response.status_code == 400


def test_a_notification_deletes_the_users_data_in_every_shop(tenant, other_tenant, configured):
    # given the eBay user is a seller connected in this shop and a buyer in its orders,
    # and another seller is connected elsewhere
    ConnectionFactory(marketplace="ebay", account_id="deleted_seller")
    Order.objects.create(
        marketplace="ebay", external_id="O-1", buyer="deleted_seller", data={"buyer": "x"}
    )
    Order.objects.create(marketplace="ebay", external_id="O-2", buyer="someone", data={"a": 1})
    with tenant_context(other_tenant.schema_name):
        ConnectionFactory(marketplace="ebay", account_id="another_seller")
    notification = {
        "metadata": {"topic": "MARKETPLACE_ACCOUNT_DELETION", "schemaVersion": "1.0"},
        "notification": {
            "notificationId": "49feeaeb-4982-42d9-a377-9645b8479411_33f7e043",
            "eventDate": "2026-12-02T10:00:00.000Z",
            "publishDate": "2026-12-02T10:00:01.000Z",
            "publishAttemptCount": 1,
            "data": {"username": "deleted_seller", "userId": "ma8vp1jySJC", "eiasToken": "nY+"},
        },
    }
    # when eBay posts the notification
    response = host_client(host=PUBLIC_HOST).post(
        URL, notification, content_type="application/json"
    )
    # then it is acknowledged; the user's tokens, account and buyer data are gone
    assert response.status_code == 204
    connection = MarketplaceConnection.objects.get(marketplace="ebay")
    assert (
        connection.status,
        connection.account_id,
        connection.access_token,
        connection.setup,
    ) == (
        "disconnected",
        "",
        "",
        {},
    )
    assert list(Order.objects.order_by("external_id").values_list("buyer", "data")) == [
        ("", {}),
        ("someone", {"a": 1}),
    ]
    with tenant_context(other_tenant.schema_name):
        other = MarketplaceConnection.objects.get(marketplace="ebay")
        assert (other.status, other.account_id) == ("connected", "another_seller")
        other.delete()


def test_another_topic_is_refused(tenant, configured):
    response = host_client(host=PUBLIC_HOST).post(
        URL, {"metadata": {"topic": "OTHER"}}, content_type="application/json"
    )
    assert response.status_code == 400
