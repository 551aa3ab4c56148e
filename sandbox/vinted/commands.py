"""What the extension does with one `command`: ack, apply faults, run the Vinted call, answer."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from websockets.asyncio.client import ClientConnection

from sandbox.vinted.api import ApiResponse, VintedApi
from sandbox.vinted.faults import Fault, FaultKind, FaultPlan
from sandbox.vinted.protocol import HTTP_METHODS, result_message, send

__all__ = ["CommandHandler"]

logger = logging.getLogger(__name__)


class CommandHandler:
    """Serves commands for one simulator; counters are written by its loop thread only."""

    def __init__(self, api: VintedApi, faults: FaultPlan, *, name: str) -> None:
        self.api = api
        self.faults = faults
        self.name = name
        self.commands_received = 0
        self.acks_sent = 0
        self.results_sent = 0
        self.results_lost = 0
        self.drops = 0
        self.invalid_commands = 0

    async def handle(self, ws: ClientConnection, command: dict[str, Any]) -> None:
        self.commands_received += 1
        command_id = command.get("id")
        if not isinstance(command_id, str) or not command_id:
            self.invalid_commands += 1  # without an id nothing can be answered
            logger.warning("vinted_sim.command_without_id", extra={"sim": self.name})
            return
        method, path = command.get("method"), command.get("path")
        valid = isinstance(method, str) and method.upper() in HTTP_METHODS and isinstance(path, str)
        is_api_call = command.get("action") == "api_call"
        fault = self.faults.pick(str(method), str(path)) if is_api_call and valid else None
        if fault is not None:
            self._log_fault(command_id, fault)
        if fault is not None and fault.kind is FaultKind.DROP_BEFORE_ACK:
            self._drop(ws)
            return
        if fault is not None and fault.kind is FaultKind.NO_ACK:
            return
        if not await send(ws, {"type": "ack", "id": command_id}):
            return
        self.acks_sent += 1
        if not is_api_call:
            response = ApiResponse(400, None, "unknown action")
        elif not valid:
            response = ApiResponse(400, None, "invalid command: method and path are required")
        else:
            response = await self._execute(command, fault)
        if fault is not None and fault.kind is FaultKind.DROP_AFTER_COMMIT:
            self._drop(ws)
            return
        if await send(ws, result_message(command_id, response)):
            self.results_sent += 1
        else:
            self.results_lost += 1  # the socket died while the call ran: an ambiguous outcome

    async def _execute(self, command: dict[str, Any], fault: Fault | None) -> ApiResponse:
        timeout_ms = command.get("timeout_ms")
        seconds = (
            timeout_ms / 1000 if isinstance(timeout_ms, int | float) and timeout_ms > 0 else None
        )
        try:
            async with asyncio.timeout(seconds):
                return await self._call(command, fault)
        except TimeoutError:
            # The browser aborts the XHR: Relist's convention for in-browser failures is status 0.
            return ApiResponse(0, None, f"timeout after {timeout_ms} ms")
        except Exception as exc:  # a simulator bug must still answer, not leave the worker waiting
            logger.exception("vinted_sim.command_crashed", extra={"sim": self.name})
            return ApiResponse(0, None, f"extension error: {exc!r}")

    async def _call(self, command: dict[str, Any], fault: Fault | None) -> ApiResponse:
        delay_ms = self.faults.latency_ms
        if fault is not None and fault.kind is FaultKind.SLOW:
            delay_ms += fault.delay_ms
        if delay_ms:
            await asyncio.sleep(delay_ms / 1000)
        if fault is not None and fault.kind is FaultKind.ERROR:
            return ApiResponse(fault.status, fault.body, fault.error, fault.headers)
        params = command.get("params")
        return await self.api.handle(
            command["method"],
            command["path"],
            command.get("body"),
            params if isinstance(params, dict) else None,
        )

    def _drop(self, ws: ClientConnection) -> None:
        # Abort the TCP connection without a close frame, as a crashing or closed tab does.
        self.drops += 1
        ws.transport.abort()

    def _log_fault(self, command_id: str, fault: Fault) -> None:
        logger.info(
            "vinted_sim.fault",
            extra={"sim": self.name, "command_id": command_id, "fault": str(fault.kind)},
        )
