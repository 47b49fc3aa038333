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


def said(out: str, err: str) -> str:
    """What a ``bench`` subprocess printed, for an assertion's message: the ends of its output and its errors, and,
    when it crashed, Python's crash report from its start (the thread stacks come before the list of modules)."""
    crash = err.find("Fatal Python error")
    report = f"\n--- the crash report ---\n{err[crash : crash + 8000]}" if crash >= 0 else ""
    return out[-2000:] + err[-2000:] + report
