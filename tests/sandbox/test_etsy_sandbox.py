"""The Etsy sandbox over real HTTP: OAuth with PKCE, listings, images, inventory, shop, receipts."""

import base64
import hashlib
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests

from sandbox.etsy import EtsySandbox


def _refresh(server: EtsySandbox, http: requests.Session, refresh_token: str) -> requests.Response:
    data = {"grant_type": "refresh_token", "client_id": server.keystring}
    return http.post(server.token_url, data={**data, "refresh_token": refresh_token})


def test_refresh_rotates_the_refresh_token_and_revokes_the_old_one(
    etsy_sandbox: EtsySandbox, http: requests.Session, etsy_tokens: dict[str, Any]
) -> None:
    # when the client refreshes, then reuses the old refresh token
    first = _refresh(etsy_sandbox, http, etsy_tokens["refresh_token"])
    reused = _refresh(etsy_sandbox, http, etsy_tokens["refresh_token"])
    second = _refresh(etsy_sandbox, http, first.json()["refresh_token"])

    # then every refresh gives a new pair, prefixed with the user id; the old token is revoked
    body = first.json()
    user_prefix = f"{etsy_tokens['user_id']}."
    assert first.status_code == 200
    assert set(body) == {"access_token", "token_type", "expires_in", "refresh_token"}
    assert (body["token_type"], body["expires_in"]) == ("Bearer", 3600)
    assert body["access_token"].startswith(user_prefix)
    assert body["refresh_token"].startswith(user_prefix)
    assert body["refresh_token"] != etsy_tokens["refresh_token"]
    assert reused.status_code == 400
    assert reused.json() == {
        "error": "invalid_grant",
        "error_description": "refresh_token is revoked",
    }
    assert second.status_code == 200


def test_pkce_consent_flow_gives_tokens_only_with_the_right_verifier(
    etsy_sandbox: EtsySandbox, http: requests.Session
) -> None:
    # given a PKCE verifier and its S256 challenge
    verifier = "a-verifier-of-at-least-forty-three-characters-long-0123456789"
    digest = hashlib.sha256(verifier.encode()).digest()
    challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    callback = "https://relist.test/connections/etsy/callback"

    def consent() -> str:
        response = http.get(
            etsy_sandbox.connect_url,
            params={
                "response_type": "code",
                "client_id": etsy_sandbox.keystring,
                "redirect_uri": callback,
                "scope": "listings_r listings_w shops_r shops_w transactions_r",
                "state": "csrf-9",
                "code_challenge": challenge,
                "code_challenge_method": "S256",
            },
            allow_redirects=False,
        )
        query = parse_qs(urlsplit(response.headers["Location"]).query)
        assert query["state"] == ["csrf-9"]
        return query["code"][0]

    def exchange(code: str, code_verifier: str) -> requests.Response:
        data = {"grant_type": "authorization_code", "client_id": etsy_sandbox.keystring}
        data |= {"redirect_uri": callback, "code": code, "code_verifier": code_verifier}
        return http.post(etsy_sandbox.token_url, data=data)

    # when one code is exchanged with a wrong verifier and another with the right one
    wrong = exchange(consent(), "not-the-verifier")
    right = exchange(consent(), verifier)

    # then
    assert wrong.status_code == 400
    assert wrong.json() == {
        "error": "invalid_grant",
        "error_description": "code_verifier is invalid",
    }
    assert right.status_code == 200
    me = http.get(
        f"{etsy_sandbox.base_url}/application/users/me",
        headers={
            "x-api-key": etsy_sandbox.keystring,
            "Authorization": f"Bearer {right.json()['access_token']}",
        },
    )
    assert me.json() == {"user_id": 100_000_001, "shop_id": 50_000_001}


def test_calls_need_a_valid_api_key(
    etsy_sandbox: EtsySandbox, http: requests.Session, etsy_headers: dict[str, str]
) -> None:
    # given
    url = f"{etsy_sandbox.base_url}/application/users/me"
    bearer = {"Authorization": etsy_headers["Authorization"]}
    with_secret = f"{etsy_sandbox.keystring}:{etsy_sandbox.shared_secret}"

    # when
    missing = http.get(url, headers=bearer)
    wrong = http.get(url, headers={**bearer, "x-api-key": "someone-else"})
    keystring_and_secret = http.get(url, headers={**bearer, "x-api-key": with_secret})

    # then
    assert missing.status_code == 403
    assert missing.json() == {"error": "Missing API key in the x-api-key header."}
    assert wrong.status_code == 403
    assert wrong.json() == {"error": "Invalid API key"}
    assert keystring_and_secret.status_code == 200


def test_the_shared_secret_can_be_required(
    etsy_sandbox: EtsySandbox, http: requests.Session, etsy_headers: dict[str, str]
) -> None:
    # given
    etsy_sandbox.require_shared_secret = True

    # when
    response = http.get(f"{etsy_sandbox.base_url}/application/users/me", headers=etsy_headers)

    # then
    assert response.status_code == 403
    assert response.json() == {"error": "Shared secret is required in x-api-key header."}


def test_a_missing_or_expired_bearer_token_is_401_invalid_token(
    etsy_sandbox: EtsySandbox, http: requests.Session, etsy_headers: dict[str, str]
) -> None:
    # given
    url = f"{etsy_sandbox.base_url}/application/users/me"

    # when
    missing = http.get(url, headers={"x-api-key": etsy_sandbox.keystring})
    etsy_sandbox.expire_access_tokens()
    expired = http.get(url, headers=etsy_headers)

    # then
    assert missing.status_code == 401
    assert missing.json() == {
        "error": "invalid_token",
        "error_description": "access token is missing",
    }
    assert expired.status_code == 401
    assert expired.json() == {
        "error": "invalid_token",
        "error_description": "access token is expired",
    }


def test_create_draft_listing_from_a_form(
    etsy_sandbox: EtsySandbox,
    http: requests.Session,
    etsy_headers: dict[str, str],
    etsy_shop_url: str,
    etsy_draft: dict[str, Any],
    etsy_tokens: dict[str, Any],
) -> None:
    # when
    response = http.post(f"{etsy_shop_url}/listings", data=etsy_draft, headers=etsy_headers)

    # then
    listing = response.json()
    assert response.status_code == 201
    assert listing["listing_id"] == 1_500_000_001
    assert listing["shop_id"] == etsy_tokens["shop_id"]
    assert listing["user_id"] == etsy_tokens["user_id"]
    assert listing["state"] == "draft"
    assert listing["title"] == "Blue wool jumper"
    assert listing["quantity"] == 3
    assert listing["taxonomy_id"] == 2078
    assert listing["price"] == {"amount": 2450, "divisor": 100, "currency_code": "USD"}
    assert listing["skus"] == ["SKU-1"]
    assert etsy_sandbox.stats()["listings_created"] == {"SKU-1": 1}


def test_create_draft_listing_from_json(
    etsy_sandbox: EtsySandbox,
    http: requests.Session,
    etsy_headers: dict[str, str],
    etsy_shop_url: str,
    etsy_draft: dict[str, Any],
) -> None:
    # given a JSON body with numbers and a list of SKUs
    body = {**etsy_draft, "quantity": 1, "price": 9.99, "taxonomy_id": 1, "skus": ["A", "B"]}

    # when
    response = http.post(f"{etsy_shop_url}/listings", json=body, headers=etsy_headers)

    # then
    assert response.status_code == 201
    assert response.json()["price"]["amount"] == 999
    assert response.json()["skus"] == ["A", "B"]


def test_create_draft_listing_without_required_fields_is_400_and_creates_nothing(
    etsy_sandbox: EtsySandbox,
    http: requests.Session,
    etsy_headers: dict[str, str],
    etsy_shop_url: str,
) -> None:
    # when
    response = http.post(
        f"{etsy_shop_url}/listings", data={"title": "Jumper", "price": "5"}, headers=etsy_headers
    )

    # then
    assert response.status_code == 400
    assert response.json() == {
        "error": (
            "Missing required parameter(s): quantity, description, who_made, when_made, "
            "taxonomy_id."
        )
    }
    assert etsy_sandbox.stats()["listings_created_total"] == 0


def test_create_draft_listing_with_an_unknown_who_made_is_400(
    http: requests.Session,
    etsy_headers: dict[str, str],
    etsy_shop_url: str,
    etsy_draft: dict[str, Any],
) -> None:
    # when
    response = http.post(
        f"{etsy_shop_url}/listings", data={**etsy_draft, "who_made": "robot"}, headers=etsy_headers
    )

    # then
    assert response.status_code == 400
    assert response.json() == {
        "error": "Invalid value for who_made: expected one of i_did, someone_else, collective."
    }


def test_another_user_s_shop_is_403(
    etsy_sandbox: EtsySandbox,
    http: requests.Session,
    etsy_shop_url: str,
    etsy_draft: dict[str, Any],
) -> None:
    # given a second seller
    other = etsy_sandbox.issue_tokens("other-seller")
    headers = {
        "x-api-key": etsy_sandbox.keystring,
        "Authorization": f"Bearer {other['access_token']}",
    }

    # when that seller creates a listing in the first seller's shop
    response = http.post(f"{etsy_shop_url}/listings", data=etsy_draft, headers=headers)

    # then
    assert response.status_code == 403
    assert response.json() == {"error": "User 100000002 does not own Shop 50000001"}


def test_activation_needs_an_image(
    etsy_sandbox: EtsySandbox,
    http: requests.Session,
    etsy_headers: dict[str, str],
    etsy_shop_url: str,
    etsy_listing_id: int,
    jpeg: bytes,
) -> None:
    # given a draft without image
    listing_url = f"{etsy_shop_url}/listings/{etsy_listing_id}"

    # when it is activated, then gets an image and is activated twice
    refused = http.patch(listing_url, data={"state": "active"}, headers=etsy_headers)
    upload = http.post(
        f"{listing_url}/images",
        files={"image": ("1.jpg", jpeg, "image/jpeg")},
        headers=etsy_headers,
    )
    activated = http.patch(listing_url, data={"state": "active"}, headers=etsy_headers)
    again = http.patch(listing_url, data={"state": "active"}, headers=etsy_headers)

    # then
    assert refused.status_code == 400
    assert refused.json() == {
        "error": "A listing must have at least one image before it can be activated."
    }
    assert upload.status_code == 201
    assert activated.status_code == 200
    assert activated.json()["state"] == "active"
    assert again.status_code == 200
    stats = etsy_sandbox.stats()
    assert stats["activations"] == {str(etsy_listing_id): 1}
    assert stats["images_uploaded"] == {str(etsy_listing_id): 1}


def test_image_upload_answers_the_image_and_ranks_it(
    etsy_sandbox: EtsySandbox,
    http: requests.Session,
    etsy_headers: dict[str, str],
    etsy_shop_url: str,
    etsy_listing_id: int,
    jpeg: bytes,
) -> None:
    # given
    url = f"{etsy_shop_url}/listings/{etsy_listing_id}/images"

    # when a second image is uploaded at rank 1
    first = http.post(url, files={"image": ("a.jpg", jpeg)}, headers=etsy_headers).json()
    second = http.post(
        url, files={"image": ("b.jpg", jpeg)}, data={"rank": "1"}, headers=etsy_headers
    ).json()
    listed = http.get(
        f"{etsy_sandbox.base_url}/application/listings/{etsy_listing_id}/images",
        headers=etsy_headers,
    ).json()

    # then it comes first and the image URL serves a JPEG
    assert first["listing_id"] == etsy_listing_id
    assert (first["listing_image_id"], first["rank"]) == (5_100_000_001, 1)
    assert (second["listing_image_id"], second["rank"]) == (5_100_000_002, 1)
    assert listed["count"] == 2
    assert [image["listing_image_id"] for image in listed["results"]] == [
        5_100_000_002,
        5_100_000_001,
    ]
    assert [image["rank"] for image in listed["results"]] == [1, 2]
    picture = http.get(first["url_fullxfull"])
    assert picture.headers["Content-Type"] == "image/jpeg"
    assert picture.content.startswith(b"\xff\xd8\xff")


def test_image_upload_refuses_bodies_without_an_image(
    etsy_sandbox: EtsySandbox,
    http: requests.Session,
    etsy_headers: dict[str, str],
    etsy_shop_url: str,
    etsy_listing_id: int,
) -> None:
    # given
    url = f"{etsy_shop_url}/listings/{etsy_listing_id}/images"

    # when
    form = http.post(url, data={"rank": "1"}, headers=etsy_headers)
    empty = http.post(url, files={"image": ("a.jpg", b"")}, headers=etsy_headers)
    text = http.post(url, files={"image": ("a.jpg", b"not an image")}, headers=etsy_headers)

    # then
    assert form.status_code == 400
    assert form.json() == {"error": "Expected a multipart/form-data body with an image file."}
    assert empty.status_code == 400
    assert empty.json() == {"error": "An image file is required in the image field."}
    assert text.status_code == 400
    assert text.json() == {"error": "The image must be a JPEG, PNG or GIF file."}
    assert etsy_sandbox.stats()["images_uploaded"] == {}


def test_shop_listings_are_filtered_by_state_and_paged(
    http: requests.Session,
    etsy_headers: dict[str, str],
    etsy_shop_url: str,
    etsy_draft: dict[str, Any],
) -> None:
    # given three drafts
    ids = [
        http.post(
            f"{etsy_shop_url}/listings",
            data={**etsy_draft, "sku": f"SKU-{n}"},
            headers=etsy_headers,
        ).json()["listing_id"]
        for n in range(3)
    ]

    # when
    active = http.get(f"{etsy_shop_url}/listings/active", headers=etsy_headers).json()
    drafts = http.get(
        f"{etsy_shop_url}/listings",
        params={"state": "draft", "limit": "2", "offset": "2"},
        headers=etsy_headers,
    ).json()

    # then
    assert active == {"count": 0, "results": []}
    assert drafts["count"] == 3
    assert [listing["listing_id"] for listing in drafts["results"]] == ids[2:]
    assert drafts["results"][0]["skus"] == ["SKU-2"]


def test_inventory_update_sets_price_quantity_and_skus(
    etsy_sandbox: EtsySandbox,
    http: requests.Session,
    etsy_headers: dict[str, str],
    etsy_listing_id: int,
) -> None:
    # given
    listing_url = f"{etsy_sandbox.base_url}/application/listings/{etsy_listing_id}"
    products = [{"sku": "SKU-7", "offerings": [{"price": 31.0, "quantity": 4, "is_enabled": True}]}]

    # when
    response = http.put(
        f"{listing_url}/inventory", json={"products": products}, headers=etsy_headers
    )

    # then
    listing = http.get(listing_url, headers=etsy_headers).json()
    inventory = http.get(f"{listing_url}/inventory", headers=etsy_headers).json()
    assert response.status_code == 200
    assert inventory["products"][0]["sku"] == "SKU-7"
    assert inventory["products"][0]["offerings"][0]["price"] == {
        "amount": 3100,
        "divisor": 100,
        "currency_code": "USD",
    }
    assert (listing["quantity"], listing["price"]["amount"], listing["skus"]) == (
        4,
        3100,
        ["SKU-7"],
    )
    assert etsy_sandbox.stats()["listings_per_sku"] == {"SKU-7": 1}


def test_delete_listing_removes_it(
    etsy_sandbox: EtsySandbox,
    http: requests.Session,
    etsy_headers: dict[str, str],
    etsy_shop_url: str,
    etsy_listing_id: int,
) -> None:
    # when
    response = http.delete(f"{etsy_shop_url}/listings/{etsy_listing_id}", headers=etsy_headers)

    # then
    get = http.get(
        f"{etsy_sandbox.base_url}/application/listings/{etsy_listing_id}", headers=etsy_headers
    )
    assert (response.status_code, response.content) == (204, b"")
    assert get.status_code == 404
    assert get.json() == {"error": f"Listing {etsy_listing_id} was not found."}


def test_update_shop_changes_title_and_announcement(
    http: requests.Session, etsy_headers: dict[str, str], etsy_shop_url: str
) -> None:
    # when
    response = http.put(
        etsy_shop_url, data={"title": "Knitwear", "announcement": "Back soon"}, headers=etsy_headers
    )

    # then
    shop = http.get(etsy_shop_url, headers=etsy_headers).json()
    assert response.status_code == 200
    assert (shop["title"], shop["announcement"]) == ("Knitwear", "Back soon")
    assert shop["shop_id"] == 50_000_001


def test_seeded_receipts_are_paged_and_filtered_by_creation_time(
    etsy_sandbox: EtsySandbox,
    http: requests.Session,
    etsy_headers: dict[str, str],
    etsy_shop_url: str,
    etsy_listing_id: int,
) -> None:
    # given five receipts for the shop's listing
    receipt_ids = etsy_sandbox.seed_orders(5)

    # when
    pages = [
        http.get(
            f"{etsy_shop_url}/receipts", params={"limit": 2, "offset": offset}, headers=etsy_headers
        ).json()
        for offset in (0, 2, 4)
    ]
    future = http.get(
        f"{etsy_shop_url}/receipts", params={"min_created": 4_000_000_000}, headers=etsy_headers
    ).json()
    one = http.get(f"{etsy_shop_url}/receipts/{receipt_ids[0]}", headers=etsy_headers).json()

    # then
    seen = [receipt["receipt_id"] for page in pages for receipt in page["results"]]
    created = [receipt["created_timestamp"] for page in pages for receipt in page["results"]]
    assert [page["count"] for page in pages] == [5, 5, 5]
    assert sorted(seen) == sorted(receipt_ids)
    assert created == sorted(created, reverse=True)
    assert future == {"count": 0, "results": []}
    assert one["receipt_id"] == receipt_ids[0]
    assert {item["listing_id"] for item in one["transactions"]} == {etsy_listing_id}
    assert {item["sku"] for item in one["transactions"]} == {"SKU-1"}


def test_stats_count_calls_per_route_template(
    etsy_sandbox: EtsySandbox, http: requests.Session, etsy_headers: dict[str, str]
) -> None:
    # when
    http.get(f"{etsy_sandbox.base_url}/application/users/me", headers=etsy_headers)
    http.get(f"{etsy_sandbox.base_url}/application/listings/42", headers=etsy_headers)

    # then
    assert etsy_sandbox.stats()["calls"] == {
        "GET /v3/application/users/me": 1,
        "GET /v3/application/listings/{listing_id}": 1,
    }
