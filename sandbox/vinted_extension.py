"""Vinted browser-extension simulator (public entry point and CLI).

The implementation lives in the `sandbox.vinted` package; this module re-exports its API so
callers write `from sandbox.vinted_extension import ExtensionSimulator`, and runs the CLI:

    python -m sandbox.vinted_extension --url ws://127.0.0.1:8000/ws/vinted/ --token T \
        [--host shop1.localhost] [--latency-ms N] [--error-rate F] [--seed N]
"""

import sys

from sandbox.vinted import *  # noqa: F403 - deliberate re-export of the package's __all__
from sandbox.vinted import __all__ as _package_all
from sandbox.vinted.__main__ import main

__all__ = [*_package_all, "main"]

if __name__ == "__main__":
    sys.exit(main())
