"""Where runs live: the project root, the results and reports folders, and what a run id may be."""

from __future__ import annotations

import os
import re
import secrets
import time
from pathlib import Path

from bench.errors import short_name

DEFAULT_RESULTS_DIR = "results"
RUN_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
RESERVED_RUN_IDS = ("latest", "baseline", "history", "gate", "calibration")
"""``latest`` names the newest run; ``baseline`` is the folder of the promoted baselines; ``history``, ``gate`` and
``calibration`` are the folders of ``bench history``, ``bench gate`` and ``bench calibrate`` beside the runs' reports
(``reports/<run>``): a run of that name would have its report rebuilt over theirs."""
MAX_RUN_ID = 128


RUN_ID_RULE = (
    f"letters, digits, '.', '_' or '-' (at most {MAX_RUN_ID}, first a letter or digit; "
    f"not {', '.join(RESERVED_RUN_IDS)})"
)
"""What a run id is made of: it names the run's folder and its report's (``reports/<run_id>``)."""


def run_id_problem(run_id: str) -> str | None:
    """Why ``run_id`` cannot name a new run (:data:`RUN_ID_RULE`), or ``None``."""
    if not re.fullmatch(RUN_ID_PATTERN, run_id) or len(run_id) > MAX_RUN_ID or run_id in RESERVED_RUN_IDS:
        return f"{short_name(run_id)!r}: use {RUN_ID_RULE}"
    return None


PYTEST_INI_FILES = ("pytest.ini", ".pytest.ini", "pytest.toml", ".pytest.toml")
PYTEST_SECTIONS = {"pyproject.toml": "[tool.pytest", "tox.ini": "[pytest]", "setup.cfg": "[tool:pytest]"}


def _has_section(path: Path, marker: str) -> bool:
    try:
        return path.is_file() and marker in path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False


def project_root(start: str | os.PathLike[str] | None = None) -> Path:
    """The folder pytest takes as its rootdir when run from ``start`` (default: the current folder) without paths,
    which is where the plugin writes ``results/`` and ``reports/``: the nearest folder going up holding a pytest
    configuration (``pytest.ini``, ``pytest.toml``, a ``pyproject.toml`` with ``[tool.pytest...]``, a ``tox.ini``
    with ``[pytest]``, a ``setup.cfg`` with ``[tool:pytest]``); failing that the nearest with a ``pyproject.toml``,
    then with a ``setup.py``; failing all, ``start`` itself."""
    here = Path(start if start is not None else os.getcwd()).absolute()
    folders = [here, *here.parents]
    for folder in folders:
        if any((folder / name).is_file() for name in PYTEST_INI_FILES):
            return folder
        if any(_has_section(folder / name, marker) for name, marker in PYTEST_SECTIONS.items()):
            return folder
    for marker in ("pyproject.toml", "setup.py"):
        for folder in folders:
            if (folder / marker).is_file():
                return folder
    return here


def _in_project(name: str) -> str:
    """``<project root>/name``, written relative (``name``) when the root is the current folder."""
    root = project_root()
    return name if root == Path(os.getcwd()).absolute() else str(root / name)


def default_results_dir() -> str:
    """``$BENCH_RESULTS_DIR`` or ``<project root>/results`` (:func:`project_root`, pytest's rootdir, where the plugin
    writes): where runs are written and read unless a command is told otherwise, from any folder of the project."""
    return os.environ.get("BENCH_RESULTS_DIR") or _in_project(DEFAULT_RESULTS_DIR)


def results_folder(results_dir: str | os.PathLike[str] | None = None) -> Path:
    """``results_dir``, or when it is ``None`` the default folder (:func:`default_results_dir`): what every reader
    of runs (:func:`load`, :func:`list_runs`, the report's ``tables()``, the gate) falls back to, as the CLI does."""
    return Path(default_results_dir() if results_dir is None else results_dir)


def default_reports_dir() -> str:
    """``$BENCH_REPORTS_DIR`` or ``<project root>/reports`` (as :func:`default_results_dir`)."""
    return os.environ.get("BENCH_REPORTS_DIR") or _in_project("reports")


def new_run_id() -> str:
    """Sortable and unique: UTC start time plus 4 random hex digits, e.g. ``20261122T140501Z-3f2a``."""
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + secrets.token_hex(2)
