"""Test configuration: warnings are errors in our own tests (not in suite runs, where they are reports)."""

from __future__ import annotations

import contextlib
import importlib
import os
import re
import warnings
from pathlib import Path

import pytest

TESTS = Path(__file__).parent
ROOT = TESTS.parent

# What a library says about itself, mostly while it is imported: a new Python compiling an old escape sequence
# (SyntaxWarning; DeprecationWarning before 3.12), a library deprecating its own internals. Python hides these
# outside __main__ by default; here they are shown, not raised, so a new Python or library version cannot fail the
# tests. The filter is scoped by module: our own modules' warnings of these kinds stay errors.
THIRD_PARTY_NOTICES = ("SyntaxWarning", "DeprecationWarning", "PendingDeprecationWarning", "ImportWarning")
# Our modules: bench.* and tests.* by name, or by file path, which is how compile-time warnings name their module.
# A filter's fields are split on ':', so a ':' in the path (Windows) is written as \x3a.
OUR_MODULES = r"(bench|tests)(\.|\Z)|" + re.escape(f"{ROOT}{os.sep}").replace(":", r"\x3a")


# Optional libraries are imported once here, before any test's filters apply: whatever they say while importing
# (onnxruntime's "Failed to register bundled CUDA plugin EP" UserWarning on a GPU machine, torchao's escape sequences)
# is shown once, of any category, and cannot fail the first test that happens to import them.
OPTIONAL_LIBRARIES = (
    "torchao",
    "torchao.quantization",
    "onnx",
    "onnxruntime",
    "onnxruntime.quantization",
    "transformers",
)
with warnings.catch_warnings():
    warnings.simplefilter("default")
    for _name in OPTIONAL_LIBRARIES:
        with contextlib.suppress(Exception):
            importlib.import_module(_name)


def warning_filters() -> tuple[str, ...]:
    """The filterwarnings every test gets, in the order pytest applies them: later filters win."""
    notices = [f for name in THIRD_PARTY_NOTICES for f in (f"default::{name}", f"error::{name}:{OUR_MODULES}")]
    # A noisy timing window on a shared machine is a report (UnstableWarning, ImpreciseWarning, BusyWarning), not a test
    # failure: tests that check it use pytest.warns, which sees it whatever the filters say.
    return (
        "error",
        *notices,
        "default::bench.measure.timing.UnstableWarning",
        "default::bench.measure.timing.ImpreciseWarning",
        "default::bench.measure.timing.BusyWarning",
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if TESTS in Path(item.path).parents:
            # before the test's own filterwarnings marks, which therefore still win
            item.add_marker(pytest.mark.filterwarnings(*warning_filters()), append=False)


@pytest.fixture(autouse=True)
def _artefact_cache_off(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests build their variants afresh (and runs they start inherit this): what an earlier test run left in the
    cross-process artefact cache must not decide a test. tests/test_artefacts.py switches it on in a temporary
    folder."""
    monkeypatch.setenv("BENCH_ARTEFACT_CACHE", "0")
