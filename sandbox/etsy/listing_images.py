"""Etsy Open API v3 listing images: multipart upload, list, delete.

API reference: https://developers.etsy.com/documentation/reference#tag/ShopListing-Image
"""

from __future__ import annotations

import itertools
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from sandbox.etsy.common import PREFIX, as_bool, as_int, fail, results
from sandbox.etsy.listings import ListingsApi
from sandbox.images import sniff_image_type
from sandbox.multipart import MultipartError, boundary_of, parse_multipart
from sandbox.routing import Request, Response, Router

MAX_IMAGES = 10


class ListingImagesApi:
    """Images of the listings in `listings`; handlers run under the sandbox lock.

    Uploaded bytes are checked and counted but not kept: image URLs point at the sandbox's
    sample JPEGs, which keeps memory flat in long benchmarks.
    """

    def __init__(self, listings: ListingsApi, image_url: Callable[[str], str]) -> None:
        self._listings = listings
        self._image_url = image_url
        self.reset()

    def reset(self) -> None:
        self._image_ids = itertools.count(5_100_000_001)
        self.uploaded: Counter[str] = Counter()

    def register(self, router: Router) -> None:
        shop_listing = f"{PREFIX}/shops/{{shop_id:\\d+}}/listings/{{listing_id:\\d+}}"
        router.add("POST", f"{shop_listing}/images", self.upload_listing_image)
        router.add("DELETE", f"{shop_listing}/images/{{image_id:\\d+}}", self.delete_listing_image)
        router.add("GET", f"{PREFIX}/listings/{{listing_id:\\d+}}/images", self.get_listing_images)

    def upload_listing_image(self, request: Request) -> Response:
        """https://developers.etsy.com/documentation/reference#operation/uploadListingImage"""
        listing = self._listings.owned_listing(request, shop_scoped=True)
        boundary = boundary_of(request.header("Content-Type"))
        if boundary is None:
            fail(400, "Expected a multipart/form-data body with an image file.")
        try:
            parts = {part.name: part for part in parse_multipart(request.body, boundary)}
        except MultipartError as exc:
            fail(400, f"Malformed multipart body: {exc}.")
        image = parts.get("image")
        if image is None or not image.data:
            fail(400, "An image file is required in the image field.")
        if sniff_image_type(image.data) is None:
            fail(400, "The image must be a JPEG, PNG or GIF file.")
        fields = {name: part.data.decode("utf-8", "replace") for name, part in parts.items()}
        images = self._listings.images[listing["listing_id"]]
        rank = as_int("rank", fields.get("rank", len(images) + 1), minimum=1, maximum=MAX_IMAGES)
        overwrite = as_bool("overwrite", fields.get("overwrite", "false"))
        replaced = next((item for item in images if overwrite and item["rank"] == rank), None)
        if replaced is None and len(images) >= MAX_IMAGES:
            fail(400, f"A listing can have at most {MAX_IMAGES} images.")
        record = self._image_record(listing["listing_id"], fields.get("alt_text"))
        if replaced is not None:
            images[images.index(replaced)] = record
        else:
            images.insert(rank - 1, record)
        for position, item in enumerate(images, start=1):
            item["rank"] = position
        self.uploaded[str(listing["listing_id"])] += 1
        return Response.json(record, 201)

    def _image_record(self, listing_id: int, alt_text: str | None) -> dict[str, Any]:
        image_id, now = next(self._image_ids), int(time.time())
        url = self._image_url(f"il-{image_id}")
        return {
            "listing_id": listing_id,
            "listing_image_id": image_id,
            "hex_code": None,
            "red": None,
            "green": None,
            "blue": None,
            "hue": None,
            "saturation": None,
            "brightness": None,
            "is_black_and_white": None,
            "creation_tsz": now,
            "created_timestamp": now,
            "rank": 0,
            "url_75x75": url,
            "url_170x135": url,
            "url_570xN": url,
            "url_fullxfull": url,
            "full_height": None,
            "full_width": None,
            "alt_text": alt_text,
        }

    def get_listing_images(self, request: Request) -> Response:
        """https://developers.etsy.com/documentation/reference#operation/getListingImages"""
        listing = self._listings.owned_listing(request, shop_scoped=False)
        images = self._listings.images[listing["listing_id"]]
        return results(images, len(images) or 1, 0)

    def delete_listing_image(self, request: Request) -> Response:
        """https://developers.etsy.com/documentation/reference#operation/deleteListingImage"""
        listing = self._listings.owned_listing(request, shop_scoped=True)
        images = self._listings.images[listing["listing_id"]]
        image_id = int(request.params["image_id"])
        kept = [image for image in images if image["listing_image_id"] != image_id]
        if len(kept) == len(images):
            fail(404, f"Listing image {image_id} was not found.")
        images[:] = kept
        for position, item in enumerate(images, start=1):
            item["rank"] = position
        return Response.empty(204)
