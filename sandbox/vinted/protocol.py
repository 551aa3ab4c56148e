"""Relist's extension protocol: constants, errors and message helpers (DESIGN.md §4).

-> {"type":"auth","token","extension_version"}
<- {"type":"auth_ok","session_id","tenant"}   or a close with 4401 / 4403
<- {"type":"command","id","action":"api_call","method","path","body","params","timeout_ms"}
-> {"type":"ack","id"}, later {"type":"result","id","ok","status","body"[,"error"][,"headers"]}
<-> {"type":"ping"[,"ts"]} / {"type":"pong"[,"ts"]};  <- {"type":"error","code","message"}
"""

from __future__ import annotations

import json
from typing import Any

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from sandbox.vinted.api import ApiResponse

__all__ = [
    "AUTH_CLOSE_CODES",
    "DEFAULT_ORIGIN",
    "EXTENSION_VERSION",
    "HTTP_METHODS",
    "MAX_MESSAGE_BYTES",
    "ExtensionAuthError",
    "ExtensionHandshakeError",
    "ExtensionSimulatorError",
    "decode",
    "pong_for",
    "result_message",
    "send",
]

DEFAULT_ORIGIN = "chrome-extension://relist-sim"
EXTENSION_VERSION = "1.0.0"
# Closes that mean "this token will never work here": reconnecting would only hammer the server.
AUTH_CLOSE_CODES = frozenset({4401, 4403})
HTTP_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})
MAX_MESSAGE_BYTES = 10 * 1024 * 1024  # the back end's own limit (MARKETPLACES.md §4)


class ExtensionSimulatorError(Exception):
    pass


class ExtensionAuthError(ExtensionSimulatorError):
    """The server refused the extension token (4401: bad or revoked, 4403: another tenant's)."""

    def __init__(self, code: int, reason: str = "") -> None:
        super().__init__(f"extension auth refused: close code {code} {reason}".rstrip())
        self.code = code
        self.reason = reason


class ExtensionHandshakeError(ExtensionSimulatorError):
    """The HTTP upgrade itself was refused with a 4xx (e.g. the origin check)."""

    def __init__(self, status: int) -> None:
        super().__init__(f"websocket upgrade refused with HTTP {status}")
        self.status = status


def decode(raw: str | bytes) -> dict[str, Any] | None:
    """A JSON object frame, or None for anything else (the caller counts and ignores it)."""
    try:
        message = json.loads(raw)
    except (TypeError, ValueError):
        return None
    return message if isinstance(message, dict) else None


async def send(ws: ClientConnection, message: dict[str, Any]) -> bool:
    """Send one frame; False if the socket is gone (callers decide what a lost frame means)."""
    try:
        await ws.send(json.dumps(message))
    except ConnectionClosed:
        return False
    return True


def pong_for(ping: dict[str, Any]) -> dict[str, Any]:
    return {"type": "pong", "ts": ping["ts"]} if "ts" in ping else {"type": "pong"}


def result_message(command_id: str, response: ApiResponse) -> dict[str, Any]:
    message: dict[str, Any] = {
        "type": "result",
        "id": command_id,
        "ok": response.ok,
        "status": response.status,
    }
    if not response.ok:
        message["error"] = response.error or "error"
    message["body"] = response.body
    if response.headers:  # e.g. Retry-After on a 429, which the back end honours
        message["headers"] = response.headers
    return message
