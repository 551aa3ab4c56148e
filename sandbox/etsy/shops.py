"""Etsy Open API v3 accounts, shops and receipts (orders), seeded on demand.

API reference: https://developers.etsy.com/documentation/reference#tag/Shop and
https://developers.etsy.com/documentation/reference#tag/Shop-Receipt
"""

from __future__ import annotations

import itertools
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sandbox.etsy.common import PREFIX, as_bool, as_int, fail, money, page, results
from sandbox.routing import Request, Response, Router

SHOP_TEXT_FIELDS = {  # updateShop fields and their maximum length
    "title": 55,
    "announcement": 5000,
    "sale_message": 5000,
    "digital_sale_message": 5000,
    "policy_additional": 5000,
}
_RECEIPT_SORT_KEYS = {"created": "created_timestamp", "updated": "updated_timestamp"}


@dataclass(frozen=True)
class Account:
    label: str  # the sandbox's name for the seller, e.g. "sandbox-seller"
    user_id: int
    shop_id: int


class ShopsApi:
    """Seller accounts (one shop each), shop settings and receipts; runs under the sandbox lock.

    `authenticate(request)` gives the caller's user id; `listings_of(shop_id)` the shop's
    listings, which seeded receipts reference.
    """

    def __init__(
        self,
        authenticate: Callable[[Request], int],
        listings_of: Callable[[int], list[dict[str, Any]]],
        seed: int | None,
    ) -> None:
        self._authenticate = authenticate
        self._listings_of = listings_of
        self._seed = seed
        self._accounts: dict[str, Account] = {}
        self._by_user: dict[int, Account] = {}
        self._shops: dict[int, dict[str, Any]] = {}
        self._user_ids = itertools.count(100_000_001)
        self._shop_ids = itertools.count(50_000_001)
        self.reset()

    def reset(self) -> None:
        """Forget receipts and shop edits; accounts stay, so that issued tokens stay valid."""
        self._receipts: dict[int, list[dict[str, Any]]] = {}
        self._random = random.Random(self._seed)
        self._receipt_ids = itertools.count(3_000_000_001)
        self._transaction_ids = itertools.count(4_000_000_001)
        for account in self._accounts.values():
            self._shops[account.shop_id] = self._new_shop(account)

    def register(self, router: Router) -> None:
        shop = f"{PREFIX}/shops/{{shop_id:\\d+}}"
        router.add("GET", f"{PREFIX}/users/me", self.get_me)
        router.add("GET", shop, self.get_shop)
        router.add("PUT", shop, self.update_shop)
        router.add("GET", f"{shop}/receipts", self.get_shop_receipts)
        router.add("GET", f"{shop}/receipts/{{receipt_id:\\d+}}", self.get_shop_receipt)
        router.add(
            "GET",
            f"{shop}/receipts/{{receipt_id:\\d+}}/transactions",
            self.get_shop_receipt_transactions,
        )

    def stats(self) -> dict[str, Any]:
        return {"receipts": sum(len(receipts) for receipts in self._receipts.values())}

    # -- accounts --------------------------------------------------------------------------

    def account(self, label: str) -> Account:
        """The seller account called `label`, created with its shop on first use."""
        account = self._accounts.get(label)
        if account is None:
            account = Account(label, next(self._user_ids), next(self._shop_ids))
            self._accounts[label] = self._by_user[account.user_id] = account
            self._shops[account.shop_id] = self._new_shop(account)
        return account

    def owned_shop(self, request: Request) -> tuple[int, int]:
        """(user id, shop id) for a path naming a shop that the caller owns."""
        user_id = self._authenticate(request)
        shop_id = int(request.params["shop_id"])
        if shop_id not in self._shops:
            fail(404, f"Shop {shop_id} was not found.")
        if self._by_user[user_id].shop_id != shop_id:
            fail(403, f"User {user_id} does not own Shop {shop_id}")
        return user_id, shop_id

    @staticmethod
    def _new_shop(account: Account) -> dict[str, Any]:
        now = int(time.time())
        name = "".join(part.capitalize() for part in account.label.replace("_", "-").split("-"))
        return {
            "shop_id": account.shop_id,
            "user_id": account.user_id,
            "shop_name": name[:20] or f"Shop{account.shop_id}",
            "create_date": now,
            "created_timestamp": now,
            "title": None,
            "announcement": None,
            "currency_code": "USD",
            "is_vacation": False,
            "vacation_message": None,
            "sale_message": None,
            "digital_sale_message": None,
            "policy_additional": None,
            "update_date": now,
            "updated_timestamp": now,
            "listing_active_count": 0,
            "login_name": account.label,
            "url": f"https://www.etsy.com/shop/{name[:20]}",
            "accepts_custom_requests": False,
        }

    # -- routes ----------------------------------------------------------------------------

    def get_me(self, request: Request) -> Response:
        """https://developers.etsy.com/documentation/reference#operation/getMe"""
        account = self._by_user[self._authenticate(request)]
        return Response.json({"user_id": account.user_id, "shop_id": account.shop_id})

    def get_shop(self, request: Request) -> Response:
        """https://developers.etsy.com/documentation/reference#operation/getShop"""
        self._authenticate(request)
        shop_id = int(request.params["shop_id"])
        shop = self._shops.get(shop_id)
        if shop is None:
            fail(404, f"Shop {shop_id} was not found.")
        active = sum(1 for item in self._listings_of(shop_id) if item["state"] == "active")
        return Response.json({**shop, "listing_active_count": active})

    def update_shop(self, request: Request) -> Response:
        """https://developers.etsy.com/documentation/reference#operation/updateShop"""
        _user_id, shop_id = self.owned_shop(request)
        data = request.fields()
        changes = {}
        for name, max_length in SHOP_TEXT_FIELDS.items():
            if name in data:
                value = str(data[name])
                if len(value) > max_length:
                    fail(400, f"Invalid value for {name}: at most {max_length} characters.")
                changes[name] = value
        now = int(time.time())
        self._shops[shop_id].update(changes, update_date=now, updated_timestamp=now)
        return self.get_shop(request)

    def get_shop_receipts(self, request: Request) -> Response:
        """https://developers.etsy.com/documentation/reference#operation/getShopReceipts"""
        _user_id, shop_id = self.owned_shop(request)
        limit, offset = page(request)
        receipts = [
            receipt for receipt in self._receipts.get(shop_id, []) if self._wanted(request, receipt)
        ]
        sort_on = request.arg("sort_on", "created")
        sort_key = _RECEIPT_SORT_KEYS.get(sort_on or "", "receipt_id")
        if sort_on not in (*_RECEIPT_SORT_KEYS, "receipt_id"):
            fail(400, "Invalid value for sort_on: expected created, updated or receipt_id.")
        descending = request.arg("sort_order", "desc") in ("desc", "descending")
        receipts.sort(key=lambda receipt: receipt[sort_key], reverse=descending)
        return results(receipts, limit, offset)

    @staticmethod
    def _wanted(request: Request, receipt: dict[str, Any]) -> bool:
        for bound, key, is_minimum in (
            ("min_created", "created_timestamp", True),
            ("max_created", "created_timestamp", False),
            ("min_last_modified", "updated_timestamp", True),
            ("max_last_modified", "updated_timestamp", False),
        ):
            value = request.arg(bound)
            if value is not None:
                limit = as_int(bound, value)
                if (receipt[key] < limit) if is_minimum else (receipt[key] > limit):
                    return False
        for flag, key in (("was_paid", "is_paid"), ("was_shipped", "is_shipped")):
            value = request.arg(flag)
            if value is not None and as_bool(flag, value) != receipt[key]:
                return False
        return True

    def _receipt(self, request: Request) -> dict[str, Any]:
        _user_id, shop_id = self.owned_shop(request)
        receipt_id = int(request.params["receipt_id"])
        for receipt in self._receipts.get(shop_id, []):
            if receipt["receipt_id"] == receipt_id:
                return receipt
        fail(404, f"Receipt {receipt_id} was not found.")

    def get_shop_receipt(self, request: Request) -> Response:
        """https://developers.etsy.com/documentation/reference#operation/getShopReceipt"""
        return Response.json(self._receipt(request))

    def get_shop_receipt_transactions(self, request: Request) -> Response:
        """https://developers.etsy.com/documentation/reference#operation/getShopReceiptTransactionsByReceipt"""
        transactions = self._receipt(request)["transactions"]
        return results(transactions, len(transactions) or 1, 0)

    # -- seeding ---------------------------------------------------------------------------

    def seed(self, count: int, label: str) -> list[int]:
        """Create `count` paid receipts over the last 30 days, for the shop's own listings."""
        account = self.account(label)
        receipts = self._receipts.setdefault(account.shop_id, [])
        created = [self._new_receipt(account) for _ in range(count)]
        receipts.extend(created)
        return [receipt["receipt_id"] for receipt in created]

    def purchase(
        self, label: str, *, listing: dict[str, Any], sku: str, quantity: int
    ) -> dict[str, Any]:
        """A buyer's paid receipt for `quantity` of a live listing, created and modified now."""
        account = self.account(label)
        receipt = self._new_receipt(account)
        now = int(time.time())
        line = receipt["transactions"][0]
        line.update(
            title=listing["title"],
            listing_id=listing["listing_id"],
            sku=sku,
            quantity=quantity,
            price=listing["price"],
            create_timestamp=now,
            created_timestamp=now,
            paid_timestamp=now,
            shipped_timestamp=None,
        )
        total = listing["price"]["amount"] * quantity
        receipt.update(
            transactions=[line],
            status="paid",
            is_shipped=False,
            create_timestamp=now,
            created_timestamp=now,
            update_timestamp=now,
            updated_timestamp=now,
            grandtotal=money(total),
            subtotal=money(total),
            total_price=money(total),
        )
        self._receipts.setdefault(account.shop_id, []).append(receipt)
        return receipt

    def cancel(self, label: str, receipt_id: int) -> dict[str, Any] | None:
        """The receipt is cancelled and refunded (Etsy's status `canceled`)."""
        for receipt in self._receipts.get(self.account(label).shop_id, []):
            if receipt["receipt_id"] == receipt_id:
                now = int(time.time())
                receipt.update(status="canceled", update_timestamp=now, updated_timestamp=now)
                return receipt
        return None

    def _new_receipt(self, account: Account) -> dict[str, Any]:
        rng, receipt_id = self._random, next(self._receipt_ids)
        created = int(time.time()) - rng.randint(60, 30 * 86400)
        shipped = rng.random() < 0.4
        buyer_id = rng.randint(200_000_000, 299_999_999)
        catalogue = [
            (listing["listing_id"], listing["title"], (listing["skus"] or [""])[0])
            for listing in self._listings_of(account.shop_id)
        ] or [(rng.randint(10**9, 2 * 10**9), "Sandbox item", f"SANDBOX-SKU-{receipt_id % 1000}")]
        transactions = []
        for _ in range(rng.choice((1, 1, 1, 2))):
            listing_id, title, sku = rng.choice(catalogue)
            quantity, cents = rng.choice((1, 1, 2)), rng.randint(500, 20_000)
            transactions.append(
                {
                    "transaction_id": next(self._transaction_ids),
                    "title": title,
                    "seller_user_id": account.user_id,
                    "buyer_user_id": buyer_id,
                    "create_timestamp": created,
                    "created_timestamp": created,
                    "paid_timestamp": created,
                    "shipped_timestamp": created + 86400 if shipped else None,
                    "quantity": quantity,
                    "receipt_id": receipt_id,
                    "is_digital": False,
                    "listing_id": listing_id,
                    "transaction_type": "listing",
                    "product_id": rng.randint(10**10, 2 * 10**10),
                    "sku": sku,
                    "price": money(cents),
                    "shipping_cost": money(0),
                    "variations": [],
                }
            )
        total = sum(item["price"]["amount"] * item["quantity"] for item in transactions)
        return {
            "receipt_id": receipt_id,
            "receipt_type": 0,
            "seller_user_id": account.user_id,
            "buyer_user_id": buyer_id,
            "buyer_email": f"buyer{buyer_id}@example.com",
            "name": f"Buyer {buyer_id}",
            "country_iso": "US",
            "status": "completed" if shipped else "paid",
            "payment_method": "cc",
            "is_paid": True,
            "is_shipped": shipped,
            "create_timestamp": created,
            "created_timestamp": created,
            "update_timestamp": created + 3600,
            "updated_timestamp": created + 3600,
            "is_gift": False,
            "grandtotal": money(total),
            "subtotal": money(total),
            "total_price": money(total),
            "total_shipping_cost": money(0),
            "total_tax_cost": money(0),
            "discount_amt": money(0),
            "shipments": [],
            "transactions": transactions,
            "refunds": [],
        }
