"""Shared test helpers: tiny suites that run in well under a second per case."""

from __future__ import annotations

from pathlib import Path

TINY_MEASURE = "measure: {warmup_s: 0.01, min_time_s: 0.02, min_rounds: 5, memory_s: 0.01, energy_min_s: 0.01}\n"


def write_suite(folder: Path, name: str, body: str) -> Path:
    """Write ``folder/name`` with ``body`` (a YAML text), creating folders as needed."""
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(body)
    return path
