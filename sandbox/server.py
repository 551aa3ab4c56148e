"""The base of the sandboxes: lifecycle, dispatch, fault handling, stats and the control API.

`SandboxServer` is the base of `EbaySandbox` and `EtsySandbox`. It runs a threaded keep-alive
HTTP server (`sandbox.transport`) in a background thread, counts calls per route, applies its
`FaultPlan` to every marketplace request, serialises route handlers with one lock (they only touch
in-memory state, so this costs microseconds and makes every handler atomic), and serves the
control endpoints under `/__sandbox__/`, which are never subject to faults.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any, ClassVar, Self

from sandbox.faults import FaultAction, FaultConfigError, FaultDecision, FaultPlan
from sandbox.images import sample_jpeg
from sandbox.routing import HttpError, InvalidBody, Match, Request, Response, Router
from sandbox.transport import SandboxHTTPServer

logger = logging.getLogger("sandbox")

CONTROL_PREFIX = "/__sandbox__/"


ErrorRenderer = Callable[[int, str], Response]


def _control_error(status: int, message: str) -> Response:
    return Response.json({"error": message}, status)


class SandboxServer:
    """Base of the marketplace sandboxes: lifecycle, dispatch, faults, stats and control API.

    Subclasses register their routes in `register_routes` and implement the hooks below.
    """

    marketplace: ClassVar[str] = "sandbox"
    api_prefix: ClassVar[str] = ""  # the path that `base_url` adds to the root URL

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        faults: FaultPlan | None = None,
        seed: int | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.seed = seed
        self.faults = faults if faults is not None else FaultPlan(seed=seed)
        self.lock = threading.RLock()  # guards all marketplace state and the call counters
        self.router = Router()
        self._control = Router()
        self._calls: Counter[str] = Counter()
        self._httpd: SandboxHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._add_control_routes()
        self.register_routes(self.router)

    # -- hooks for the marketplaces --------------------------------------------------------

    def register_routes(self, router: Router) -> None:
        raise NotImplementedError

    def error_response(self, status: int, message: str) -> Response:
        """An error in the marketplace's own body shape (faults, 404 routes, bad bodies)."""
        raise NotImplementedError

    def marketplace_stats(self) -> dict[str, Any]:
        raise NotImplementedError

    def reset_state(self) -> None:
        raise NotImplementedError

    def issue_tokens(self, user: str | None = None) -> dict[str, Any]:
        raise NotImplementedError

    def expire_access_tokens(self) -> int:
        raise NotImplementedError

    def seed_orders(self, count: int, user: str | None = None) -> Sequence[str | int]:
        """Create `count` orders for `user` (default seller); returns their ids."""
        raise NotImplementedError

    def purchase(self, sku: str, quantity: int, user: str | None = None) -> dict[str, Any] | None:
        """A buyer purchases the live listing of `sku`; returns the new order, None if unlisted."""
        raise NotImplementedError

    def cancel_order(self, order_id: str, user: str | None = None) -> dict[str, Any] | None:
        """The order is cancelled and refunded; returns it, None if unknown."""
        raise NotImplementedError

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> Self:
        """Listen (port 0 picks a free port) and serve from a background daemon thread."""
        if self._httpd is not None:
            raise RuntimeError(f"the {self.marketplace} sandbox is already running")
        self._httpd = SandboxHTTPServer((self.host, self.port), self)
        self.port = int(self._httpd.server_address[1])
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            # stop() waits up to one poll interval; a short one keeps test teardown fast.
            kwargs={"poll_interval": 0.01},
            name=f"{self.marketplace}-sandbox",
            daemon=True,
        )
        self._thread.start()
        logger.info(
            "sandbox.started", extra={"marketplace": self.marketplace, "url": self.root_url}
        )
        return self

    def stop(self) -> None:
        """Stop serving and close every connection; safe to call twice."""
        httpd, thread = self._httpd, self._thread
        if httpd is None:
            return
        httpd.shutdown()
        httpd.server_close()
        httpd.close_connections()
        if thread is not None:
            thread.join()
        self._httpd = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def root_url(self) -> str:
        """Scheme, host and port: where the control API and the sample images live."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def base_url(self) -> str:
        """The API base URL that production clients are configured with."""
        return self.root_url + self.api_prefix

    def image_url(self, name: str) -> str:
        """URL of a sample JPEG served by this sandbox, for product image fields."""
        return f"{self.root_url}{CONTROL_PREFIX}images/{name}.jpg"

    # -- in-process control ----------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        """Creation counters, per-route call counters and injected faults (a copy)."""
        with self.lock:
            return {
                **self.marketplace_stats(),
                "calls": dict(self._calls),
                "faults": self.faults.injected,
            }

    def reset(self) -> None:
        """Forget all marketplace data, counters and faults; issued tokens stay valid."""
        with self.lock:
            self.reset_state()
            self._calls.clear()
            self.faults.reset()

    # -- request processing ----------------------------------------------------------------

    def process(self, request: Request) -> Response | None:
        """The answer to one request, or None when the connection must be dropped unanswered."""
        if request.path.startswith(CONTROL_PREFIX):
            match = self._control.match(request.method, request.path)
            return self._dispatch(match, request, _control_error)
        match = self.router.match(request.method, request.path)
        with self.lock:
            self._calls[f"{request.method} {match.template}"] += 1
        decision = self.faults.decide(request.method, request.path)
        if decision.delay_s > 0:
            time.sleep(decision.delay_s)  # outside the lock: slow calls still run concurrently
        if decision.action is FaultAction.DROP_BEFORE:
            return None
        if decision.status is not None:
            return self._fault_response(decision)
        response = self._dispatch(match, request)
        # The lost answer: the state change above is committed, the client never hears of it.
        return None if decision.action is FaultAction.DROP_AFTER else response

    def _dispatch(
        self, match: Match, request: Request, render_error: ErrorRenderer | None = None
    ) -> Response:
        render_error = render_error or self.error_response
        if match.route is None:
            if match.allowed:
                response = render_error(405, f"Method {request.method} not allowed")
                response.headers["Allow"] = ", ".join(match.allowed)
                return response
            return render_error(404, f"No resource at {request.path}")
        request.params = match.params
        try:
            with self.lock:
                return match.route.handler(request)
        except HttpError as exc:
            return exc.response
        except InvalidBody as exc:
            return render_error(400, str(exc))
        except Exception:
            # A sandbox bug must reach the client as a 500, as a real server's would.
            logger.exception("sandbox.handler_failed", extra={"route": match.template})
            return render_error(500, "internal sandbox error")

    def _fault_response(self, decision: FaultDecision) -> Response:
        status = decision.status or 503
        if decision.body is not None:
            response = Response.json(decision.body, status)
        elif status == 429:
            response = self.error_response(429, "Too many requests (injected fault)")
        else:
            response = self.error_response(status, "Injected fault")
        if decision.retry_after is not None:
            response.headers["Retry-After"] = str(decision.retry_after)
        return response

    # -- control API -----------------------------------------------------------------------

    def _add_control_routes(self) -> None:
        add = self._control.add
        add("GET", "/__sandbox__/health", self._control_health)
        add("GET", "/__sandbox__/stats", lambda _request: Response.json(self.stats()))
        add("GET", "/__sandbox__/faults", lambda _request: Response.json(self.faults.snapshot()))
        add("POST", "/__sandbox__/faults", self._control_set_faults)
        add("DELETE", "/__sandbox__/faults", self._control_clear_faults)
        add("POST", "/__sandbox__/reset", self._control_reset)
        add("POST", "/__sandbox__/tokens", self._control_issue_tokens)
        add("POST", "/__sandbox__/tokens/expire", self._control_expire_tokens)
        add("POST", "/__sandbox__/orders", self._control_seed_orders)
        add("POST", "/__sandbox__/purchase", self._control_purchase)
        add("POST", "/__sandbox__/orders/cancel", self._control_cancel_order)
        add("GET", "/__sandbox__/images/{name}.jpg", self._control_image)

    @staticmethod
    def _control_body(request: Request) -> dict[str, Any]:
        if not request.body.strip():
            return {}
        data = request.json()
        if not isinstance(data, dict):
            raise HttpError(_control_error(400, "the body must be a JSON object"))
        return data

    @staticmethod
    def _control_user(body: dict[str, Any]) -> str | None:
        user = body.get("user")
        if user is not None and not isinstance(user, str):
            raise HttpError(_control_error(400, "user must be a string"))
        return user

    def _control_health(self, _request: Request) -> Response:
        return Response.json(
            {"ok": True, "marketplace": self.marketplace, "base_url": self.base_url}
        )

    def _control_set_faults(self, request: Request) -> Response:
        try:
            self.faults.apply(self._control_body(request))
        except FaultConfigError as exc:
            return _control_error(400, str(exc))
        return Response.json(self.faults.snapshot())

    def _control_clear_faults(self, _request: Request) -> Response:
        self.faults.clear()
        return Response.json(self.faults.snapshot())

    def _control_reset(self, _request: Request) -> Response:
        self.reset()
        return Response.json({"reset": True})

    def _control_issue_tokens(self, request: Request) -> Response:
        return Response.json(self.issue_tokens(self._control_user(self._control_body(request))))

    def _control_expire_tokens(self, _request: Request) -> Response:
        return Response.json({"expired": self.expire_access_tokens()})

    def _control_seed_orders(self, request: Request) -> Response:
        body = self._control_body(request)
        count = body.get("count", 1)
        if isinstance(count, bool) or not isinstance(count, int) or not 0 < count <= 10_000:
            return _control_error(400, "count must be an integer from 1 to 10000")
        created = self.seed_orders(count, self._control_user(body))
        return Response.json({"created": created})

    def _control_purchase(self, request: Request) -> Response:
        """A buyer purchases the live listing of `sku` (`quantity`, default 1)."""
        body = self._control_body(request)
        sku, quantity = body.get("sku"), body.get("quantity", 1)
        if not isinstance(sku, str) or not sku:
            return _control_error(400, "sku must be a non-empty string")
        if isinstance(quantity, bool) or not isinstance(quantity, int) or not 0 < quantity <= 999:
            return _control_error(400, "quantity must be an integer from 1 to 999")
        order = self.purchase(sku, quantity, self._control_user(body))
        if order is None:
            return _control_error(404, f"no live listing for SKU {sku}")
        return Response.json(order)

    def _control_cancel_order(self, request: Request) -> Response:
        body = self._control_body(request)
        order_id = body.get("order_id")
        if isinstance(order_id, bool) or not isinstance(order_id, str | int):
            return _control_error(400, "order_id must be given")
        order = self.cancel_order(str(order_id), self._control_user(body))
        if order is None:
            return _control_error(404, f"no order {order_id}")
        return Response.json(order)

    def _control_image(self, request: Request) -> Response:
        data = sample_jpeg(request.params["name"])
        return Response(200, data, {"Content-Type": "image/jpeg", "Cache-Control": "max-age=3600"})
