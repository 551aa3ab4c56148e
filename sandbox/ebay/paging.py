"""limit/offset paging as eBay's REST APIs do it: absolute href, next and prev links."""

from __future__ import annotations

from urllib.parse import urlencode

from sandbox.routing import Request


def page_params(request: Request, *, default_limit: int, max_limit: int) -> tuple[int, int] | None:
    """(limit, offset) from the query, or None when either is not a valid integer in range."""
    try:
        limit = int(request.arg("limit") or default_limit)
        offset = int(request.arg("offset") or 0)
    except ValueError:
        return None
    if not 1 <= limit <= max_limit or offset < 0:
        return None
    return limit, offset


def page_links(
    url: str, query: dict[str, str], *, limit: int, offset: int, total: int
) -> dict[str, str]:
    """The href of this page, plus next and prev when those pages exist."""

    def link(at: int) -> str:
        return f"{url}?{urlencode({**query, 'limit': limit, 'offset': at})}"

    links = {"href": link(offset)}
    if offset + limit < total:
        links["next"] = link(offset + limit)
    if offset > 0:
        links["prev"] = link(max(0, offset - limit))
    return links
