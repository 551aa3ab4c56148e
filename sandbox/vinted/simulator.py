"""The Relist browser extension, simulated: a real WebSocket client that plays a Vinted account.

Connects to Relist's `/ws/vinted/` consumer, authenticates with an extension token and answers
`api_call` commands the way the real extension does inside a logged-in browser (protocol in
`sandbox.vinted.protocol`). Each command runs in its own task so a slow call never delays
heartbeats or other commands. A simulator is single-use: to bring "the same browser" back after
`stop()`, build a new simulator around the same `VintedAccount`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import threading
from collections.abc import Coroutine
from typing import Any, Self

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus
from websockets.typing import Origin
from websockets.uri import parse_uri

from sandbox.vinted.account import VintedAccount
from sandbox.vinted.api import VintedApi
from sandbox.vinted.commands import CommandHandler
from sandbox.vinted.faults import FaultPlan
from sandbox.vinted.protocol import (
    AUTH_CLOSE_CODES,
    DEFAULT_ORIGIN,
    EXTENSION_VERSION,
    MAX_MESSAGE_BYTES,
    ExtensionAuthError,
    ExtensionHandshakeError,
    ExtensionSimulatorError,
    decode,
    pong_for,
    send,
)
from sandbox.vinted.runner import LoopThread

__all__ = ["ExtensionSimulator"]

logger = logging.getLogger(__name__)

USER_AGENT = "RelistExtensionSimulator/1.0"


class ExtensionSimulator:
    def __init__(
        self,
        url: str,
        token: str,
        *,
        host: str | None = None,
        origin: str = DEFAULT_ORIGIN,
        account: VintedAccount | None = None,
        faults: FaultPlan | None = None,
        fetch_photos: bool = True,
        reconnect: bool = True,
        heartbeat_s: float | None = 20.0,
        seed: int | None = None,
        extension_version: str = EXTENSION_VERSION,
        name: str | None = None,
        open_timeout_s: float = 5.0,
        auth_timeout_s: float = 5.0,
        reconnect_delay_s: float = 0.1,
        max_reconnect_delay_s: float = 5.0,
    ) -> None:
        self.url = url
        self.token = token
        self.host = host  # sent verbatim as the Host header; the TCP peer stays the url's
        self.origin = origin
        self.extension_version = extension_version
        self.reconnect = reconnect
        self.heartbeat_s = heartbeat_s
        self.open_timeout_s = open_timeout_s
        self.auth_timeout_s = auth_timeout_s
        self.reconnect_delay_s = reconnect_delay_s
        self.max_reconnect_delay_s = max_reconnect_delay_s
        self.name = name or host or url
        self.account = account or VintedAccount()
        self.faults = faults or FaultPlan(seed=seed)
        self.api = VintedApi(self.account, fetch_photos=fetch_photos)
        self.commands = CommandHandler(self.api, self.faults, name=self.name)
        self._random = random.Random(seed)  # reconnect jitter, so a seeded run replays exactly

        # Observable state, written by the loop thread only, readable from any thread.
        self.session_id: str | None = None
        self.tenant: str | None = None
        self.errors: list[dict[str, Any]] = []
        self.close_codes: list[int | None] = []
        self.connections = 0
        self.pings_sent = 0
        self.pings_received = 0
        self.pongs_received = 0
        self.invalid_messages = 0
        self.failure: BaseException | None = None
        # Set once authenticated, or once run() ends without ever authenticating.
        self.ready = threading.Event()

        self._stop_requested = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ws: ClientConnection | None = None
        self._session_task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._connected = asyncio.Event()
        self._finished = asyncio.Event()
        self._wake = asyncio.Event()
        self._runner: LoopThread | None = None
        self._started = False

    # --- inspection -----------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    @property
    def commands_received(self) -> int:
        return self.commands.commands_received

    @property
    def acks_sent(self) -> int:
        return self.commands.acks_sent

    @property
    def results_sent(self) -> int:
        return self.commands.results_sent

    @property
    def results_lost(self) -> int:
        """Results computed but never delivered because the socket died meanwhile."""
        return self.commands.results_lost

    @property
    def drops(self) -> int:
        """Sockets this simulator killed on purpose (drop faults)."""
        return self.commands.drops

    @property
    def items_created(self) -> list[int]:
        return self.account.items_created

    @property
    def wardrobe(self) -> dict[int, dict[str, Any]]:
        return self.account.wardrobe

    def count_items_with_marker(self, marker: str, *, include_deleted: bool = False) -> int:
        return self.account.count_items_with_marker(marker, include_deleted=include_deleted)

    # --- lifecycle ------------------------------------------------------------------------------

    async def run(self) -> None:
        """Connect, authenticate and serve commands until `stop()`, reconnecting if enabled."""
        if self._started:
            raise RuntimeError("an ExtensionSimulator runs once; build a new one to restart")
        self._started = True
        self._loop = asyncio.get_running_loop()
        try:
            await self._run_sessions()
        except Exception as exc:
            self.failure = exc
            raise
        finally:
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            self._loop = None
            self._finished.set()
            self.ready.set()

    async def wait_connected(self, timeout: float = 10.0) -> None:
        """Return once authenticated; raise the run's failure, or TimeoutError."""
        waiters = [
            asyncio.ensure_future(self._connected.wait()),
            asyncio.ensure_future(self._finished.wait()),
        ]
        try:
            await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
        if self._connected.is_set():
            return
        if self.failure is not None:
            raise self.failure
        if self._finished.is_set():
            raise ExtensionSimulatorError(f"{self.name}: stopped before authenticating")
        raise TimeoutError(f"{self.name}: not authenticated within {timeout} s")

    def start_in_thread(self, timeout: float = 10.0) -> Self:
        """Run on a private loop in a daemon thread; return once authenticated, raise otherwise."""
        if self._started or self._runner is not None:
            raise RuntimeError("an ExtensionSimulator runs once; build a new one to restart")
        self._runner = LoopThread([self], name=f"vinted-sim:{self.name}")
        self._runner.start(timeout)
        return self

    def request_stop(self) -> None:
        """Ask for a clean close, from any thread, without waiting."""
        self._stop_requested.set()
        loop = self._loop
        if loop is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop closed in the meantime
            loop.call_soon_threadsafe(self._on_stop)

    def stop(self, timeout: float = 5.0) -> None:
        """Close cleanly; when started with `start_in_thread`, also join the thread."""
        if self._runner is not None:
            self._runner.stop(timeout)
        else:
            self.request_stop()

    def __enter__(self) -> Self:
        return self.start_in_thread()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # --- sessions -------------------------------------------------------------------------------

    async def _run_sessions(self) -> None:
        attempt = 0
        while not self._stop_requested.is_set():
            connections_before = self.connections
            try:
                await self._run_one_session()
            except (OSError, TimeoutError, InvalidHandshake, ConnectionClosed) as exc:
                if not self.reconnect:
                    raise
                logger.info(
                    "vinted_sim.connect_failed", extra={"sim": self.name, "error": repr(exc)}
                )
            if not self.reconnect or self._stop_requested.is_set():
                return
            attempt = 0 if self.connections > connections_before else attempt + 1
            await self._sleep_unless_stopped(self._backoff(attempt))

    async def _run_one_session(self) -> None:
        task = asyncio.create_task(self._session())
        self._session_task = task
        try:
            await task
        except asyncio.CancelledError:
            current = asyncio.current_task()
            stopping = self._stop_requested.is_set() and task.cancelled()
            if not stopping or (current is not None and current.cancelling()):
                raise
        finally:
            self._session_task = None

    async def _session(self) -> None:
        uri, options = self._connect_args()
        try:
            ws = await connect(uri, **options)
        except InvalidStatus as exc:
            status = exc.response.status_code
            if 400 <= status < 500:
                raise ExtensionHandshakeError(status) from exc
            raise
        self._ws = ws
        closed: ConnectionClosed | None = None
        try:
            async with ws:
                await self._authenticate(ws)
                await self._serve(ws)
        except ConnectionClosed as exc:
            closed = exc
        finally:
            self._ws = None
            self._connected.clear()
            self.close_codes.append(ws.close_code)
        if ws.close_code in AUTH_CLOSE_CODES:  # token revoked while connected
            raise ExtensionAuthError(ws.close_code or 0, ws.close_reason or "") from closed
        if closed is not None and not self._stop_requested.is_set():
            raise closed

    def _connect_args(self) -> tuple[str, dict[str, Any]]:
        options: dict[str, Any] = {
            "origin": Origin(self.origin),
            "user_agent_header": USER_AGENT,
            "proxy": None,  # loopback sandbox: an environment proxy must never be used
            "open_timeout": self.open_timeout_s,
            # Protocol-level keepalive only detects half-open TCP connections (so a reconnect
            # starts); presence is the app-level heartbeat, which is why it isn't tied to it.
            "ping_interval": 20.0,
            "ping_timeout": 20.0,
            "close_timeout": 2.0,
            "max_size": MAX_MESSAGE_BYTES,
        }
        if self.host is None:
            return self.url, options
        # websockets builds the Host header from the URI and lets host/port redirect the TCP
        # connection, so the URI carries the virtual host and host/port the real peer. A Host
        # without a port yields ws://name/ (default port), whose Host header is exactly "name".
        target = parse_uri(self.url)
        scheme = "wss" if target.secure else "ws"
        options.update(host=target.host, port=target.port)
        return f"{scheme}://{self.host}{target.resource_name}", options

    async def _authenticate(self, ws: ClientConnection) -> None:
        hello = {"type": "auth", "token": self.token, "extension_version": self.extension_version}
        try:
            async with asyncio.timeout(self.auth_timeout_s):
                await ws.send(json.dumps(hello))
                accepted = await self._await_auth_ok(ws)
        except ConnectionClosed as exc:
            if exc.rcvd is not None and exc.rcvd.code in AUTH_CLOSE_CODES:
                raise ExtensionAuthError(exc.rcvd.code, exc.rcvd.reason) from None
            raise
        self.session_id = accepted.get("session_id")
        self.tenant = accepted.get("tenant")
        self.connections += 1
        self._connected.set()
        self.ready.set()
        logger.info(
            "vinted_sim.authenticated",
            extra={"sim": self.name, "session_id": self.session_id, "tenant": self.tenant},
        )

    async def _await_auth_ok(self, ws: ClientConnection) -> dict[str, Any]:
        while True:
            message = self._decode(await ws.recv())
            if message is None:
                continue
            kind = message.get("type")
            if kind == "auth_ok":
                return message
            if kind == "ping":
                await send(ws, pong_for(message))
            elif kind == "error":
                self._record_error(message)

    async def _serve(self, ws: ClientConnection) -> None:
        heartbeat = None
        if self.heartbeat_s:
            heartbeat = asyncio.create_task(self._heartbeat(ws, self.heartbeat_s))
        try:
            async for raw in ws:  # ends on a clean close, raises ConnectionClosedError otherwise
                message = self._decode(raw)
                if message is not None:
                    await self._dispatch(ws, message)
        finally:
            if heartbeat is not None:
                heartbeat.cancel()

    async def _dispatch(self, ws: ClientConnection, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind == "command":
            self._spawn(self.commands.handle(ws, message))
        elif kind == "ping":
            self.pings_received += 1
            await send(ws, pong_for(message))
        elif kind == "pong":
            self.pongs_received += 1
        elif kind == "error":
            self._record_error(message)
        else:  # forward compatibility: a newer server may send types this version ignores
            logger.debug("vinted_sim.message_ignored", extra={"sim": self.name, "kind": kind})

    async def _heartbeat(self, ws: ClientConnection, interval_s: float) -> None:
        while True:
            await asyncio.sleep(interval_s)
            if not await send(ws, {"type": "ping"}):
                return
            self.pings_sent += 1

    # --- helpers --------------------------------------------------------------------------------

    def _decode(self, raw: str | bytes) -> dict[str, Any] | None:
        message = decode(raw)
        if message is None:
            self.invalid_messages += 1
            logger.warning("vinted_sim.invalid_message", extra={"sim": self.name})
        return message

    def _record_error(self, message: dict[str, Any]) -> None:
        self.errors.append(message)
        logger.warning(
            "vinted_sim.server_error",
            extra={"sim": self.name, "code": message.get("code"), "detail": message.get("message")},
        )

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)  # keep a reference: the loop only holds weak ones
        task.add_done_callback(self._tasks.discard)

    def _backoff(self, attempt: int) -> float:
        # Exponential with equal jitter: a herd of simulators doesn't reconnect in lockstep.
        ceiling = min(self.max_reconnect_delay_s, self.reconnect_delay_s * 2**attempt)
        return ceiling / 2 + self._random.uniform(0, ceiling / 2)

    async def _sleep_unless_stopped(self, delay: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=delay)

    def _on_stop(self) -> None:
        self._wake.set()
        if self._ws is not None:
            self._spawn(self._ws.close(1000, "extension stopped"))
        elif self._session_task is not None:
            self._session_task.cancel()  # still connecting: nothing to close cleanly
