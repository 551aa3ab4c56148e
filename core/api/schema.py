"""OpenAPI pieces shared by every endpoint: the error body and the error responses that any
operation can give (drf-spectacular infers only the success ones).

`add_error_responses` is a postprocessing hook: it documents 401 and 404 on every operation
(authentication, tenant membership, unknown ids), 400 where input is parsed and 403 on writes
(viewers). Endpoint-specific errors (409, 422, 503) are declared on the views with `errors()`."""

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers

ERROR_COMPONENT = "Error"
_REF = {"$ref": f"#/components/schemas/{ERROR_COMPONENT}"}
_DESCRIPTIONS = {
    400: "The request is invalid (validation_failed, parse_error).",
    401: "Authentication is missing or invalid (wrong credentials, at login).",
    403: "The member may only read (viewer), or the CSRF check failed.",
    404: "Not found, or not a member of this shop.",
    409: "The resource's state refuses the action (invalid_transition, conflict).",
    413: "The request body is over the size limit (payload_too_large).",
    422: "The Idempotency-Key was used for a different request.",
    429: "Too many requests (throttled, locked_out); retry after Retry-After seconds.",
    503: "The marketplace or the shop is unavailable right now; try again later.",
}
_WRITE_METHODS = frozenset({"post", "put", "patch", "delete"})
_BODY_METHODS = frozenset({"post", "put", "patch"})


class ApiTokenScheme(OpenApiAuthenticationExtension):
    """Documents tenants.auth.ApiTokenAuthentication as HTTP bearer auth."""

    target_class = "tenants.auth.ApiTokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": (
                "A token from POST /api/auth/login/, as `Authorization: Bearer <token>` "
                "(`Token <token>` is accepted too)."
            ),
        }


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Stable, machine-readable: not_found, …")
    message = serializers.CharField(help_text="For humans.")
    details = serializers.DictField(
        child=serializers.JSONField(), help_text="Structured context; {} when there is none."
    )


class ErrorSerializer(serializers.Serializer):
    error = ErrorDetailSerializer()

    class Meta:
        ref_name = ERROR_COMPONENT


def errors(*statuses: int) -> dict[int, OpenApiResponse]:
    """`extend_schema(responses={200: X, **errors(409)})`."""
    return {
        status: OpenApiResponse(response=ErrorSerializer, description=_DESCRIPTIONS[status])
        for status in statuses
    }


def _error_component() -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "error": {
                "type": "object",
                "properties": {
                    "code": {"type": "string"},
                    "message": {"type": "string"},
                    "details": {"type": "object", "additionalProperties": {}},
                },
                "required": ["code", "message", "details"],
            }
        },
        "required": ["error"],
    }


def _statuses_for(method: str, operation: dict[str, Any]) -> list[int]:
    statuses = [404, 429]
    secured = operation.get("security") not in (None, [{}])  # login needs no token
    if secured:
        statuses.append(401)
    has_query = any(p.get("in") == "query" for p in operation.get("parameters", []))
    if method in _WRITE_METHODS or has_query:
        statuses.append(400)
    if method in _WRITE_METHODS and secured:
        statuses.append(403)
    if method in _BODY_METHODS:
        statuses.append(413)
    return statuses


def add_error_responses(result: dict[str, Any], generator: Any, **kwargs: Any) -> dict[str, Any]:
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas.setdefault(ERROR_COMPONENT, _error_component())
    for path_item in result.get("paths", {}).values():
        for method, operation in path_item.items():
            responses = operation.setdefault("responses", {})
            for status in _statuses_for(method, operation):
                responses.setdefault(
                    str(status),
                    {
                        "description": _DESCRIPTIONS[status],
                        "content": {"application/json": {"schema": _REF}},
                    },
                )
    return result


# OpenAPI links (https://spec.openapis.org/oas/v3.0.3#link-object): what a client, or
# schemathesis' stateful tests, can do next with what a create answered. The created resource's
# own operations, by operationId, with the path parameter taken from the 201 body.
_ITEM_OPERATIONS = ("retrieve", "update", "partial_update", "destroy")
LINKS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    # create operation: (path parameter, field of the 201 body, operations it feeds)
    "batches_create": ("batch_id", "batch_id", ("batches_retrieve", "batches_cancel")),
    "jobs_create": (
        "id",
        "id",
        tuple(f"jobs_{op}" for op in ("retrieve", "tasks", "pause", "resume", "cancel", "retry")),
    ),
    "products_create": ("id", "id", tuple(f"products_{op}" for op in _ITEM_OPERATIONS)),
    "categories_create": ("code", "code", tuple(f"categories_{op}" for op in _ITEM_OPERATIONS)),
    "category_mappings_create": (
        "id",
        "id",
        tuple(f"category_mappings_{op}" for op in _ITEM_OPERATIONS),
    ),
    "value_mappings_create": (
        "id",
        "id",
        tuple(f"value_mappings_{op}" for op in _ITEM_OPERATIONS),
    ),
    "extension_tokens_issue": ("id", "id", ("extension_tokens_revoke",)),
}


def add_links(result: dict[str, Any], generator: Any, **kwargs: Any) -> dict[str, Any]:
    """Adds LINKS to each create's 201 response. A link to an operation the schema does not
    have is an error here, not a dangling reference a client finds later."""
    operations = {
        operation["operationId"]: operation
        for path_item in result.get("paths", {}).values()
        for operation in path_item.values()
    }
    for source, (parameter, field, targets) in LINKS.items():
        if source not in operations or any(target not in operations for target in targets):
            raise ValueError(f"OpenAPI links of {source} name an unknown operation: {targets}")
        created = operations[source]["responses"]["201"]
        created["links"] = {
            _link_name(target): {
                "operationId": target,
                "parameters": {parameter: f"$response.body#/{field}"},
            }
            for target in targets
        }
    return result


def _link_name(operation_id: str) -> str:
    """jobs_partial_update -> JobsPartialUpdate."""
    return "".join(part.capitalize() for part in operation_id.split("_"))
