"""The eBay sandbox over real HTTP: OAuth, inventory items, offers, orders, counters."""

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests

from sandbox.ebay import EbaySandbox

INVENTORY = "/sell/inventory/v1"
ORDERS = "/sell/fulfillment/v1/order"
INVALID_TOKEN_BODY = {
    "errors": [
        {
            "errorId": 1001,
            "domain": "OAuth",
            "category": "REQUEST",
            "message": "Invalid access token",
            "longMessage": (
                "Invalid access token. Check the value of the Authorization HTTP request header."
            ),
        }
    ]
}
CLIENT_AUTH = ("relist-sandbox-client", "relist-sandbox-secret")


def test_refresh_grant_returns_a_new_access_token_and_keeps_the_refresh_token(
    ebay_sandbox: EbaySandbox, http: requests.Session
) -> None:
    # given a seller who connected the app
    tokens = ebay_sandbox.issue_tokens()

    # when the client refreshes, as eBay documents (Basic auth, form body)
    response = http.post(
        ebay_sandbox.token_url,
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        auth=CLIENT_AUTH,
    )

    # then only a new access token comes back, and it works
    body = response.json()
    assert response.status_code == 200
    assert set(body) == {"access_token", "expires_in", "token_type"}
    assert body["expires_in"] == 7200
    assert body["token_type"] == "User Access Token"
    assert body["access_token"] != tokens["access_token"]
    items = http.get(
        f"{ebay_sandbox.base_url}{INVENTORY}/inventory_item",
        headers={"Authorization": f"Bearer {body['access_token']}"},
    )
    assert items.status_code == 200


def test_token_endpoint_with_wrong_client_secret_is_invalid_client(
    ebay_sandbox: EbaySandbox, http: requests.Session
) -> None:
    # given a valid refresh token
    tokens = ebay_sandbox.issue_tokens()

    # when the client authenticates with a wrong secret
    response = http.post(
        ebay_sandbox.token_url,
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        auth=("relist-sandbox-client", "wrong"),
    )

    # then eBay's OAuth error comes back
    assert response.status_code == 401
    assert response.json() == {
        "error": "invalid_client",
        "error_description": "client authentication failed",
    }


def test_refresh_with_an_unknown_refresh_token_is_invalid_grant(
    ebay_sandbox: EbaySandbox, http: requests.Session
) -> None:
    # when a refresh uses a token eBay never issued
    response = http.post(
        ebay_sandbox.token_url,
        data={"grant_type": "refresh_token", "refresh_token": "v^1.1#unknown"},
        auth=CLIENT_AUTH,
    )

    # then
    assert response.status_code == 400
    assert response.json() == {
        "error": "invalid_grant",
        "error_description": (
            "the provided authorization refresh token is invalid or was issued to another client"
        ),
    }


def test_consent_redirects_with_a_code_that_exchanges_once_for_a_token_pair(
    ebay_sandbox: EbaySandbox, http: requests.Session
) -> None:
    # given the consent URL of the connect flow
    callback = "https://relist.test/connections/ebay/callback"
    consent = http.get(
        ebay_sandbox.authorize_url,
        params={
            "client_id": "relist-sandbox-client",
            "redirect_uri": callback,
            "response_type": "code",
            "scope": "https://api.ebay.com/oauth/api_scope/sell.inventory",
            "state": "csrf-123",
        },
        allow_redirects=False,
    )

    # when the callback exchanges the code, twice
    location = urlsplit(consent.headers["Location"])
    query = parse_qs(location.query)
    exchange = {"grant_type": "authorization_code", "code": query["code"][0]}
    exchange["redirect_uri"] = callback
    first = http.post(ebay_sandbox.token_url, data=exchange, auth=CLIENT_AUTH)
    second = http.post(ebay_sandbox.token_url, data=exchange, auth=CLIENT_AUTH)

    # then the redirect carries code and state, the first exchange gives a pair, the second fails
    assert consent.status_code == 302
    assert f"{location.scheme}://{location.netloc}{location.path}" == callback
    assert query["state"] == ["csrf-123"]
    assert first.status_code == 200
    assert set(first.json()) == {
        "access_token",
        "expires_in",
        "refresh_token",
        "refresh_token_expires_in",
        "token_type",
    }
    assert first.json()["refresh_token_expires_in"] == 47_304_000
    assert second.status_code == 400
    assert second.json()["error"] == "invalid_grant"


def test_api_call_without_a_bearer_token_is_401_invalid_access_token(
    ebay_sandbox: EbaySandbox, http: requests.Session
) -> None:
    # when
    response = http.get(f"{ebay_sandbox.base_url}{INVENTORY}/inventory_item/SKU-1")

    # then
    assert response.status_code == 401
    assert response.json() == INVALID_TOKEN_BODY


def test_token_expiry_mid_batch_gives_401_until_the_client_refreshes(
    ebay_sandbox: EbaySandbox,
    http: requests.Session,
    ebay_headers: dict[str, str],
    ebay_put_item: Callable[[str], requests.Response],
) -> None:
    # given a batch whose first call succeeded
    first = ebay_put_item("SKU-1")
    refresh_token = ebay_sandbox.issue_tokens()["refresh_token"]

    # when every access token expires, and the client then refreshes and repeats
    expired = ebay_sandbox.expire_access_tokens()
    second = ebay_put_item("SKU-2")
    refreshed = http.post(
        ebay_sandbox.token_url,
        data={"grant_type": "refresh_token", "refresh_token": refresh_token},
        auth=CLIENT_AUTH,
    ).json()["access_token"]
    headers = {**ebay_headers, "Authorization": f"Bearer {refreshed}"}
    get = http.get(f"{ebay_sandbox.base_url}{INVENTORY}/inventory_item/SKU-1", headers=headers)

    # then
    assert first.status_code == 204
    assert expired == 2
    assert second.status_code == 401
    assert second.json() == INVALID_TOKEN_BODY
    assert get.status_code == 200


def test_a_zero_access_token_ttl_makes_new_tokens_expire_at_once(
    ebay_sandbox: EbaySandbox, http: requests.Session
) -> None:
    # given
    ebay_sandbox.access_token_ttl = 0
    token = ebay_sandbox.issue_tokens()["access_token"]

    # when
    response = http.get(
        f"{ebay_sandbox.base_url}{INVENTORY}/inventory_item",
        headers={"Authorization": f"Bearer {token}"},
    )

    # then
    assert response.status_code == 401
    assert response.json() == INVALID_TOKEN_BODY


def test_put_inventory_item_creates_it_and_get_returns_it(
    ebay_sandbox: EbaySandbox,
    http: requests.Session,
    ebay_headers: dict[str, str],
    ebay_item: dict[str, Any],
    ebay_put_item: Callable[[str], requests.Response],
) -> None:
    # when the item is put twice (createOrReplace)
    first = ebay_put_item("SKU-1")
    second = ebay_put_item("SKU-1")
    get = http.get(f"{ebay_sandbox.base_url}{INVENTORY}/inventory_item/SKU-1", headers=ebay_headers)

    # then
    assert (first.status_code, first.content) == (204, b"")
    assert second.status_code == 204
    assert get.json() == {**ebay_item, "sku": "SKU-1", "locale": "en_US"}
    assert ebay_sandbox.stats()["inventory_item_puts"] == {"SKU-1": 2}


def test_put_inventory_item_without_a_title_is_rejected_and_stores_nothing(
    ebay_sandbox: EbaySandbox,
    http: requests.Session,
    ebay_headers: dict[str, str],
    ebay_item: dict[str, Any],
) -> None:
    # given an item whose product has no title
    del ebay_item["product"]["title"]
    url = f"{ebay_sandbox.base_url}{INVENTORY}/inventory_item/SKU-1"

    # when
    response = http.put(url, json=ebay_item, headers=ebay_headers)

    # then
    assert response.status_code == 400
    assert response.json() == {
        "errors": [
            {
                "errorId": 25709,
                "domain": "API_INVENTORY",
                "subdomain": "Selling",
                "category": "REQUEST",
                "message": (
                    "Invalid value for product.title. A title of 1 to 80 characters is required."
                ),
                "parameters": [{"name": "fieldName", "value": "product.title"}],
            }
        ]
    }
    assert http.get(url, headers=ebay_headers).status_code == 404
    assert ebay_sandbox.stats()["inventory_item_puts"] == {}


def test_put_inventory_item_without_content_language_is_rejected(
    ebay_sandbox: EbaySandbox,
    http: requests.Session,
    ebay_headers: dict[str, str],
    ebay_item: dict[str, Any],
) -> None:
    # given
    headers = {"Authorization": ebay_headers["Authorization"]}

    # when
    response = http.put(
        f"{ebay_sandbox.base_url}{INVENTORY}/inventory_item/SKU-1", json=ebay_item, headers=headers
    )

    # then
    error = response.json()["errors"][0]
    assert response.status_code == 400
    assert error["errorId"] == 25709
    assert error["message"] == (
        "Invalid value for header Content-Language. Use a supported locale such as en-US."
    )


def test_get_of_a_missing_inventory_item_is_404_25710(
    ebay_sandbox: EbaySandbox, http: requests.Session, ebay_headers: dict[str, str]
) -> None:
    # when
    response = http.get(
        f"{ebay_sandbox.base_url}{INVENTORY}/inventory_item/NOPE", headers=ebay_headers
    )

    # then
    assert response.status_code == 404
    assert response.json() == {
        "errors": [
            {
                "errorId": 25710,
                "domain": "API_INVENTORY",
                "subdomain": "Selling",
                "category": "REQUEST",
                "message": (
                    "We didn't find the resource/entity you are requesting. Please verify the "
                    "request"
                ),
            }
        ]
    }


def test_inventory_items_are_paged_with_next_links(
    ebay_sandbox: EbaySandbox,
    http: requests.Session,
    ebay_headers: dict[str, str],
    ebay_put_item: Callable[[str], requests.Response],
) -> None:
    # given three items
    for sku in ("SKU-1", "SKU-2", "SKU-3"):
        ebay_put_item(sku)
    url = f"{ebay_sandbox.base_url}{INVENTORY}/inventory_item"

    # when the client reads pages of two, following `next`
    first = http.get(url, params={"limit": 2}, headers=ebay_headers).json()
    second = http.get(first["next"], headers=ebay_headers).json()

    # then
    assert [item["sku"] for item in first["inventoryItems"]] == ["SKU-1", "SKU-2"]
    assert [item["sku"] for item in second["inventoryItems"]] == ["SKU-3"]
    assert (first["total"], first["limit"], first["size"]) == (3, 2, 2)
    assert first["href"] == f"{url}?limit=2&offset=0"
    assert first["next"] == f"{url}?limit=2&offset=2"
    assert "next" not in second
    assert second["prev"] == f"{url}?limit=2&offset=0"


def test_a_second_offer_for_the_same_sku_is_error_25002_naming_the_existing_offer(
    ebay_sandbox: EbaySandbox,
    http: requests.Session,
    ebay_headers: dict[str, str],
    ebay_offer_id: str,
    ebay_offer: Callable[[str], dict[str, Any]],
) -> None:
    # when the offer is created again for the same SKU and marketplace
    response = http.post(
        f"{ebay_sandbox.base_url}{INVENTORY}/offer", json=ebay_offer("SKU-1"), headers=ebay_headers
    )

    # then eBay's "already exists" error comes back and nothing is created
    assert response.status_code == 400
    assert response.json() == {
        "errors": [
            {
                "errorId": 25002,
                "domain": "API_INVENTORY",
                "subdomain": "Selling",
                "category": "REQUEST",
                "message": "A user error has occurred. Offer entity already exists.",
                "parameters": [{"name": "offerId", "value": ebay_offer_id}],
            }
        ]
    }
    assert ebay_sandbox.stats()["offers_created"] == {"SKU-1": 1}


def test_offer_for_a_sku_without_inventory_item_is_rejected(
    ebay_sandbox: EbaySandbox,
    http: requests.Session,
    ebay_headers: dict[str, str],
    ebay_offer: Callable[[str], dict[str, Any]],
) -> None:
    # when
    response = http.post(
        f"{ebay_sandbox.base_url}{INVENTORY}/offer", json=ebay_offer("GHOST"), headers=ebay_headers
    )

    # then
    assert response.status_code == 400
    assert response.json()["errors"][0]["errorId"] == 25702
    assert ebay_sandbox.stats()["offers_created"] == {}


def test_get_offers_by_sku_finds_the_existing_offer(
    ebay_sandbox: EbaySandbox,
    http: requests.Session,
    ebay_headers: dict[str, str],
    ebay_offer_id: str,
) -> None:
    # when the client looks for an offer to reuse
    response = http.get(
        f"{ebay_sandbox.base_url}{INVENTORY}/offer", params={"sku": "SKU-1"}, headers=ebay_headers
    )

    # then
    body = response.json()
    assert response.status_code == 200
    assert (body["total"], body["size"]) == (1, 1)
    assert body["offers"][0]["offerId"] == ebay_offer_id
    assert body["offers"][0]["status"] == "UNPUBLISHED"
    assert body["offers"][0]["pricingSummary"] == {"price": {"value": "24.50", "currency": "USD"}}


def test_get_offers_for_a_sku_without_offers_is_404_25713(
    ebay_sandbox: EbaySandbox,
    http: requests.Session,
    ebay_headers: dict[str, str],
    ebay_put_item: Callable[[str], requests.Response],
) -> None:
    # given an item without offer
    ebay_put_item("SKU-1")

    # when
    response = http.get(
        f"{ebay_sandbox.base_url}{INVENTORY}/offer", params={"sku": "SKU-1"}, headers=ebay_headers
    )

    # then
    assert response.status_code == 404
    assert response.json()["errors"][0]["errorId"] == 25713
    assert response.json()["errors"][0]["message"] == "This Offer is not available."


def test_publishing_twice_returns_the_same_listing_and_creates_one(
    ebay_sandbox: EbaySandbox,
    http: requests.Session,
    ebay_headers: dict[str, str],
    ebay_offer_id: str,
) -> None:
    # when the offer is published twice
    url = f"{ebay_sandbox.base_url}{INVENTORY}/offer/{ebay_offer_id}/publish"
    first = http.post(url, headers=ebay_headers)
    second = http.post(url, headers=ebay_headers)
    offer = http.get(
        f"{ebay_sandbox.base_url}{INVENTORY}/offer/{ebay_offer_id}", headers=ebay_headers
    )

    # then
    assert first.status_code == 200
    assert second.json() == first.json() == {"listingId": "110554000001", "warnings": []}
    assert offer.json()["status"] == "PUBLISHED"
    assert offer.json()["listing"]["listingId"] == "110554000001"
    assert ebay_sandbox.stats()["listings_created"] == {"SKU-1": 1}


def test_publishing_an_offer_without_price_is_error_25002(
    ebay_sandbox: EbaySandbox,
    http: requests.Session,
    ebay_headers: dict[str, str],
    ebay_put_item: Callable[[str], requests.Response],
    ebay_offer: Callable[[str], dict[str, Any]],
) -> None:
    # given an offer without price
    ebay_put_item("SKU-1")
    body = ebay_offer("SKU-1")
    del body["pricingSummary"]
    offer_id = http.post(
        f"{ebay_sandbox.base_url}{INVENTORY}/offer", json=body, headers=ebay_headers
    ).json()["offerId"]

    # when
    response = http.post(
        f"{ebay_sandbox.base_url}{INVENTORY}/offer/{offer_id}/publish", headers=ebay_headers
    )

    # then
    assert response.status_code == 400
    assert response.json()["errors"][0] == {
        "errorId": 25002,
        "domain": "API_INVENTORY",
        "subdomain": "Selling",
        "category": "REQUEST",
        "message": "A user error has occurred. pricingSummary.price is missing.",
        "parameters": [{"name": "fieldName", "value": "pricingSummary.price"}],
    }
    assert ebay_sandbox.stats()["listings_created"] == {}


def test_withdraw_ends_the_listing_and_a_new_publish_creates_a_new_one(
    ebay_sandbox: EbaySandbox,
    http: requests.Session,
    ebay_headers: dict[str, str],
    ebay_offer_id: str,
) -> None:
    # given a published offer
    offer_url = f"{ebay_sandbox.base_url}{INVENTORY}/offer/{ebay_offer_id}"
    published = http.post(f"{offer_url}/publish", headers=ebay_headers).json()["listingId"]

    # when it is withdrawn, then published again
    withdrawn = http.post(f"{offer_url}/withdraw", headers=ebay_headers)
    offer = http.get(offer_url, headers=ebay_headers).json()
    republished = http.post(f"{offer_url}/publish", headers=ebay_headers).json()["listingId"]

    # then
    assert withdrawn.status_code == 200
    assert withdrawn.json() == {"listingId": published, "warnings": []}
    assert offer["status"] == "UNPUBLISHED"
    assert "listing" not in offer
    assert republished != published
    assert ebay_sandbox.stats()["listings_created"] == {"SKU-1": 2}


def test_update_offer_replaces_its_fields(
    ebay_sandbox: EbaySandbox,
    http: requests.Session,
    ebay_headers: dict[str, str],
    ebay_offer_id: str,
    ebay_offer: Callable[[str], dict[str, Any]],
) -> None:
    # given a new price
    body = ebay_offer("SKU-1")
    body["pricingSummary"]["price"]["value"] = "30.00"
    offer_url = f"{ebay_sandbox.base_url}{INVENTORY}/offer/{ebay_offer_id}"

    # when
    response = http.put(offer_url, json=body, headers=ebay_headers)

    # then
    offer = http.get(offer_url, headers=ebay_headers).json()
    assert response.status_code == 204
    assert offer["pricingSummary"]["price"] == {"value": "30.00", "currency": "USD"}
    assert (offer["sku"], offer["offerId"], offer["status"]) == (
        "SKU-1",
        ebay_offer_id,
        "UNPUBLISHED",
    )


def test_delete_inventory_item_also_deletes_its_offers(
    ebay_sandbox: EbaySandbox,
    http: requests.Session,
    ebay_headers: dict[str, str],
    ebay_offer_id: str,
) -> None:
    # when
    response = http.delete(
        f"{ebay_sandbox.base_url}{INVENTORY}/inventory_item/SKU-1", headers=ebay_headers
    )

    # then
    offer = http.get(
        f"{ebay_sandbox.base_url}{INVENTORY}/offer/{ebay_offer_id}", headers=ebay_headers
    )
    assert response.status_code == 204
    assert offer.status_code == 404
    assert offer.json()["errors"][0]["errorId"] == 25713


def test_sellers_do_not_see_each_other_s_inventory(
    ebay_sandbox: EbaySandbox,
    http: requests.Session,
    ebay_put_item: Callable[[str], requests.Response],
) -> None:
    # given an item of the default seller
    ebay_put_item("SKU-1")
    other = ebay_sandbox.issue_tokens("other-seller")["access_token"]

    # when another seller asks for it
    response = http.get(
        f"{ebay_sandbox.base_url}{INVENTORY}/inventory_item/SKU-1",
        headers={"Authorization": f"Bearer {other}"},
    )
    listed = http.get(
        f"{ebay_sandbox.base_url}{INVENTORY}/inventory_item",
        headers={"Authorization": f"Bearer {other}"},
    )

    # then the item does not exist for that seller, and its inventory is empty
    assert response.status_code == 404
    assert [e["errorId"] for e in response.json()["errors"]] == [25710]
    assert (listed.json()["total"], listed.json()["inventoryItems"]) == (0, [])


def test_seeded_orders_are_paged_newest_first_and_filtered_by_date(
    ebay_sandbox: EbaySandbox, http: requests.Session, ebay_headers: dict[str, str]
) -> None:
    # given five orders
    order_ids = ebay_sandbox.seed_orders(5)
    url = f"{ebay_sandbox.base_url}{ORDERS}"
    since_2024 = {"filter": "creationdate:[2024-01-01T00:00:00.000Z..]"}

    # when the client pages through them, and filters on a future date
    pages = [
        http.get(url, params={**since_2024, "limit": 2, "offset": offset}, headers=ebay_headers)
        for offset in (0, 2, 4)
    ]
    future = http.get(
        url, params={"filter": "creationdate:[2999-01-01T00:00:00.000Z..]"}, headers=ebay_headers
    )

    # then
    bodies = [page.json() for page in pages]
    seen = [order["orderId"] for body in bodies for order in body["orders"]]
    dates = [order["creationDate"] for body in bodies for order in body["orders"]]
    assert [len(body["orders"]) for body in bodies] == [2, 2, 1]
    assert [body["total"] for body in bodies] == [5, 5, 5]
    assert sorted(seen) == sorted(order_ids)
    assert dates == sorted(dates, reverse=True)
    assert "next" in bodies[1]
    assert "next" not in bodies[2]
    assert future.json()["total"] == 0
    assert future.json()["orders"] == []


def test_an_order_has_the_documented_shape_and_references_the_seller_s_skus(
    ebay_sandbox: EbaySandbox,
    http: requests.Session,
    ebay_headers: dict[str, str],
    ebay_put_item: Callable[[str], requests.Response],
) -> None:
    # given an item and an order
    ebay_put_item("SKU-1")
    (order_id,) = ebay_sandbox.seed_orders(1)

    # when
    order = http.get(f"{ebay_sandbox.base_url}{ORDERS}/{order_id}", headers=ebay_headers).json()

    # then
    assert order["orderId"] == order_id
    assert order["orderPaymentStatus"] == "PAID"
    assert order["orderFulfillmentStatus"] in {"NOT_STARTED", "IN_PROGRESS", "FULFILLED"}
    assert set(order["pricingSummary"]["total"]) == {"value", "currency"}
    assert {item["sku"] for item in order["lineItems"]} == {"SKU-1"}
    assert {item["title"] for item in order["lineItems"]} == {"Blue wool jumper"}
    assert "_creationDate" not in order


def test_an_unknown_order_and_an_unknown_filter_are_errors(
    ebay_sandbox: EbaySandbox, http: requests.Session, ebay_headers: dict[str, str]
) -> None:
    # when
    missing = http.get(f"{ebay_sandbox.base_url}{ORDERS}/00-00000-00000", headers=ebay_headers)
    bad_filter = http.get(
        f"{ebay_sandbox.base_url}{ORDERS}", params={"filter": "colour:[red]"}, headers=ebay_headers
    )

    # then
    assert missing.status_code == 404
    assert missing.json()["errors"][0]["errorId"] == 32100
    assert missing.json()["errors"][0]["message"] == "Invalid order ID: 00-00000-00000"
    assert bad_filter.status_code == 400
    assert bad_filter.json()["errors"][0]["message"] == "Invalid filter name: colour"


def test_stats_count_calls_per_route_template(
    ebay_sandbox: EbaySandbox,
    http: requests.Session,
    ebay_headers: dict[str, str],
    ebay_put_item: Callable[[str], requests.Response],
) -> None:
    # when
    ebay_put_item("SKU-1")
    ebay_put_item("SKU-2")
    http.get(f"{ebay_sandbox.base_url}/sell/nothing/here", headers=ebay_headers)

    # then
    assert ebay_sandbox.stats()["calls"] == {
        "PUT /sell/inventory/v1/inventory_item/{sku}": 2,
        "GET (unmatched)": 1,
    }
