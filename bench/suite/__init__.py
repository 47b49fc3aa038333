"""Suites: YAML loading (``extends`` with deep merge, cycles rejected), validation, and sweep expansion.

Every error names the file, the key path and what is allowed, e.g.::

    suites/quick.yaml: compression[1]: unknown compression 'bf61'. Did you mean 'bf16'? Allowed: bf16, fp16, fp32

:mod:`~bench.suite.files` finds and reads suite files; :mod:`~bench.suite.schema` validates them and expands the
sweep.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from bench.spec import Suite
from bench.suite.files import discover, is_suite_file, resolve_extends
from bench.suite.schema import SECTION_OWNERS, TOP_LEVEL_KEYS, Validator


def load_suite(path: str | os.PathLike[str]) -> Suite:
    """Load, validate and expand one suite file."""
    path = Path(path)
    files: list[Path] = []
    suite = Validator(str(path), resolve_extends(path, files=files)).suite()
    return dataclasses.replace(suite, files=tuple(str(f) for f in files))


__all__ = ["SECTION_OWNERS", "TOP_LEVEL_KEYS", "discover", "is_suite_file", "load_suite"]
