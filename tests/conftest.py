"""Test configuration: warnings are errors in our own tests (not in suite runs, where they are reports)."""

from __future__ import annotations

from pathlib import Path

import pytest

TESTS = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if TESTS in Path(item.path).parents:
            # Later filters win. A noisy timing window on a shared machine is a report (UnstableWarning), not a
            # test failure: tests that check it use pytest.warns, which sees it whatever the filters say.
            item.add_marker(pytest.mark.filterwarnings("default::bench.runner.UnstableWarning"), append=False)
            item.add_marker(pytest.mark.filterwarnings("error"), append=False)
