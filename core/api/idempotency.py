"""The Idempotency-Key request header of create endpoints (DESIGN §3): a repeat returns the
first response, the same key for a different request answers 422.
https://datatracker.ietf.org/doc/draft-ietf-httpapi-idempotency-key-header/"""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework.request import Request

from core.errors import ValidationFailed

HEADER = "Idempotency-Key"
MAX_LENGTH = 200  # the width of the idempotency_key columns

IDEMPOTENCY_KEY_PARAMETER = OpenApiParameter(
    name=HEADER,
    type=OpenApiTypes.STR,
    location=OpenApiParameter.HEADER,
    required=False,
    description=(
        "A client-chosen unique key (a UUID, say). A repeat with the same key and body returns "
        "the first response; the same key with a different body answers 422."
    ),
)


def idempotency_key_from(request: Request) -> str | None:
    key = request.headers.get(HEADER)
    if key is None:
        return None
    key = key.strip()
    if not key or len(key) > MAX_LENGTH or not key.isprintable() or not key.isascii():
        raise ValidationFailed(
            f"{HEADER} must be 1 to {MAX_LENGTH} printable ASCII characters.",
            details={"header": HEADER},
        )
    return key
