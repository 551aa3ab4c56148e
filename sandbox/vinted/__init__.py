"""Vinted browser-extension simulator: a real WebSocket client that plays a Vinted account.

`sandbox.vinted_extension` re-exports this package and is the CLI entry point.
"""

from sandbox.vinted.account import ItemFields, VintedAccount
from sandbox.vinted.api import ApiResponse, VintedApi
from sandbox.vinted.faults import Fault, FaultKind, FaultPlan, FaultRule
from sandbox.vinted.fleet import SimulatorFleet
from sandbox.vinted.protocol import (
    AUTH_CLOSE_CODES,
    DEFAULT_ORIGIN,
    ExtensionAuthError,
    ExtensionHandshakeError,
    ExtensionSimulatorError,
)
from sandbox.vinted.simulator import ExtensionSimulator

__all__ = [
    "AUTH_CLOSE_CODES",
    "DEFAULT_ORIGIN",
    "ApiResponse",
    "ExtensionAuthError",
    "ExtensionHandshakeError",
    "ExtensionSimulator",
    "ExtensionSimulatorError",
    "Fault",
    "FaultKind",
    "FaultPlan",
    "FaultRule",
    "ItemFields",
    "SimulatorFleet",
    "VintedAccount",
    "VintedApi",
]
