"""Stand-ins for the Relist side, for the extension simulator's tests.

`FakeRelistServer` is the server half of the `/ws/vinted/` protocol (the Django Channels consumer
does not exist yet) on a real socket, with its own loop in a thread so plain pytest functions can
drive it synchronously. `PhotoServer` serves photo bytes over HTTP, as Relist's media URLs do.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

WAIT_S = 3.0  # generous upper bound; every wait returns as soon as its condition holds


@dataclass
class Session:
    """One accepted WebSocket connection, as the server saw it."""

    number: int
    host: str | None
    origin: str | None
    path: str
    ws: ServerConnection
    received: list[dict[str, Any]] = field(default_factory=list)
    session_id: str | None = None
    tenant: str | None = None
    closed_code: int | None = None
    closed: bool = False


class FakeRelistServer:
    """Checks the token against the Host's tenant, sends commands, collects acks and results."""

    def __init__(self, *, tokens: dict[str, str], domains: dict[str, str]) -> None:
        self.tokens = tokens  # extension token -> tenant schema
        self.domains = domains  # host name without port -> tenant schema
        self.sessions: list[Session] = []
        self.acks: dict[str, dict[str, Any]] = {}
        self.results: dict[str, dict[str, Any]] = {}
        self._condition = threading.Condition()
        self._numbers = itertools.count(1)
        self._loop = asyncio.new_event_loop()
        self._server: Server | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    # --- lifecycle ------------------------------------------------------------------------------

    def start(self) -> FakeRelistServer:
        self._thread.start()
        self._server = self._run(self._open())
        return self

    async def _open(self) -> Server:
        return await serve(self._handle, "127.0.0.1", 0, process_request=self._check_origin)

    @staticmethod
    def _check_origin(ws: ServerConnection, request: Request) -> Response | None:
        # Like Channels' origin validator: only browser-extension origins may upgrade.
        origin = request.headers.get("Origin", "")
        if origin.startswith(("chrome-extension://", "moz-extension://")):
            return None
        return ws.respond(HTTPStatus.FORBIDDEN, "origin not allowed\n")

    def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            self._run(self._server.wait_closed())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(WAIT_S)
        self._loop.close()

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws/vinted/"

    # --- driving the extension from the test thread ---------------------------------------------

    def send(self, message: dict[str, Any], *, session: Session | None = None) -> None:
        target = session or self.current
        self._run(target.ws.send(json.dumps(message)))

    def close_session(self, code: int, reason: str = "", *, session: Session | None = None) -> None:
        target = session or self.current
        self._run(target.ws.close(code, reason))

    def send_command(
        self,
        method: str,
        path: str,
        body: Any = None,
        params: dict[str, Any] | None = None,
        *,
        action: str = "api_call",
        timeout_ms: int = 30_000,
        session: Session | None = None,
    ) -> str:
        command_id = str(uuid.uuid4())
        command = {
            "type": "command",
            "id": command_id,
            "action": action,
            "method": method,
            "path": path,
            "body": body,
            "params": params,
            "timeout_ms": timeout_ms,
        }
        self.send(command, session=session)
        return command_id

    def call(self, method: str, path: str, body: Any = None, **options: Any) -> dict[str, Any]:
        """Send a command and return its result (fails the test if none arrives)."""
        command_id = self.send_command(method, path, body, **options)
        result = self.wait_result(command_id)
        assert result is not None, f"no result for {method} {path}"
        return result

    def wait_result(self, command_id: str, timeout: float = WAIT_S) -> dict[str, Any] | None:
        return self._wait_for_value(lambda: self.results.get(command_id), timeout)

    def wait_ack(self, command_id: str, timeout: float = WAIT_S) -> dict[str, Any] | None:
        return self._wait_for_value(lambda: self.acks.get(command_id), timeout)

    def wait_until(self, predicate: Callable[[], bool], timeout: float = WAIT_S) -> bool:
        """Wait for server-side or simulator-side state; the latter is polled every 10 ms."""
        deadline = time.monotonic() + timeout
        with self._condition:
            while not predicate():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._condition.wait(min(remaining, 0.01))
            return True

    def wait_sessions(self, count: int, timeout: float = WAIT_S) -> list[Session]:
        assert self.wait_until(lambda: len(self.authenticated) >= count, timeout)
        return self.authenticated

    @property
    def authenticated(self) -> list[Session]:
        return [session for session in self.sessions if session.session_id is not None]

    @property
    def current(self) -> Session:
        return self.authenticated[-1]

    def messages_of_type(self, kind: str) -> Iterator[dict[str, Any]]:
        for session in self.sessions:
            yield from (message for message in session.received if message.get("type") == kind)

    # --- server side ----------------------------------------------------------------------------

    async def _handle(self, ws: ServerConnection) -> None:
        assert ws.request is not None
        headers = ws.request.headers
        session = Session(
            number=next(self._numbers),
            host=headers.get("Host"),
            origin=headers.get("Origin"),
            path=ws.request.path,
            ws=ws,
        )
        self._update(lambda: self.sessions.append(session))
        try:
            if await self._authenticate(ws, session):
                async for raw in ws:
                    await self._on_message(ws, session, json.loads(raw))
        except ConnectionClosed:
            pass  # the simulator dropped the socket on purpose: the session just ends
        finally:
            self._update(lambda: self._mark_closed(session, ws.close_code))

    async def _authenticate(self, ws: ServerConnection, session: Session) -> bool:
        hello = json.loads(await ws.recv())
        self._update(lambda: session.received.append(hello))
        token_tenant = self.tokens.get(hello.get("token")) if hello.get("type") == "auth" else None
        host_tenant = self.domains.get((session.host or "").split(":")[0])
        if token_tenant is None:
            await ws.close(4401, "invalid token")
            return False
        if token_tenant != host_tenant:
            await ws.close(4403, "token of another tenant")
            return False
        session_id = f"sess-{session.number}"

        def accept() -> None:
            session.session_id = session_id
            session.tenant = token_tenant

        # Recorded before answering, so a test never sees the simulator ready before the session.
        self._update(accept)
        auth_ok = {"type": "auth_ok", "session_id": session_id, "tenant": token_tenant}
        await ws.send(json.dumps(auth_ok))
        return True

    async def _on_message(self, ws: ServerConnection, session: Session, message: Any) -> None:
        def record() -> None:
            session.received.append(message)
            if message.get("type") == "ack":
                self.acks[message["id"]] = message
            elif message.get("type") == "result":
                self.results[message["id"]] = message

        self._update(record)
        if message.get("type") == "ping":
            await ws.send(json.dumps({"type": "pong"}))

    @staticmethod
    def _mark_closed(session: Session, code: int | None) -> None:
        session.closed = True
        session.closed_code = code

    # --- plumbing -------------------------------------------------------------------------------

    def _run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(WAIT_S)

    def _update(self, change: Callable[[], None]) -> None:
        with self._condition:
            change()
            self._condition.notify_all()

    def _wait_for_value(
        self, read: Callable[[], dict[str, Any] | None], timeout: float
    ) -> dict[str, Any] | None:
        with self._condition:
            self._condition.wait_for(lambda: read() is not None, timeout)
            return read()


class PhotoServer:
    """Serves `/photo-<n>.jpg` (fake JPEG bytes) on loopback; any other path is a 404."""

    PHOTO = b"\xff\xd8\xff\xe0" + b"relist-sim-photo" * 64 + b"\xff\xd9"

    def __init__(self) -> None:
        photo = self.PHOTO

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.startswith("/photo-") and self.path.endswith(".jpg"):
                    self.send_response(200)
                    self.send_header("Content-Type", "image/jpeg")
                    self.send_header("Content-Length", str(len(photo)))
                    self.end_headers()
                    self.wfile.write(photo)
                else:
                    self.send_error(404)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep pytest output clean

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def start(self) -> PhotoServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(WAIT_S)

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/{name}"
