"""bench: benchmark compressed AI models across compression levels, engines and hardware.

One YAML suite sweeps models x compression x engine x hardware x batch size; every case becomes a pytest item
timed through pytest-benchmark, and every measurement lands in an append-only, crash-safe results store.
"""

from __future__ import annotations

__version__ = "0.1.0"
