"""A suite run's progress on the terminal: one line that says which case runs, how many are done, and how long the
rest will take, drawn with rich between cases and never while one is timed.

pytest's own progress (a dot per case, a percentage at the end of each line) says neither which case runs nor when
the sweep will end, and a sweep runs for minutes. On a terminal, at pytest's default verbosity and with its output
capture on, the plugin replaces those dots with this line (``--bench-progress auto``, the default):

    ━━━━━━━━━━━━╸━━━━━━━━━━━  23/66  3:12 elapsed  ~6:40 left  1 failed  tiny::dlrm-tiny[bf16-cpu-2t-bs8]

A failed case gets a line of its own above it (``FAILED <case>``, ``ERROR <case>`` for an error in its set-up;
pytest's report of it still comes at the end). ``--bench-progress dots`` keeps pytest's dots; ``bar`` draws the line
even where the output is not a terminal (and is refused beside an option that prints into it: ``-v``, live logs,
``-s``). Under ``auto``, output that is not a terminal (a CI log, ``| tee``) or is a ``TERM=dumb`` one, and those
options, keep pytest's own progress.

The time left is an estimate, drawn with ``~``. A case that ran on this machine before (the same host and CPU, in
the results folder's newest runs) is expected to take what it took then, scaled by this run's pace so far. Any
other case is expected to take as long as the finished ``ok`` cases most like it took on average (the same model,
engine and compression; else the same model and engine; else the same model; else any), so a sweep whose
``torch.compile`` cases are slow does not promise the eager cases' pace. Without an earlier run, the estimate
appears once a case has finished.

The line is redrawn when a case starts and cleared when it ends, outside the case's timed calls; nothing runs in
the background (no refresh thread), so drawing it cannot disturb a measurement.
"""

from __future__ import annotations

import math
import os
import statistics
import time
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

import pytest

PROGRESS_CHOICES = ("auto", "bar", "dots")


def clock(seconds: float) -> str:
    """``m:ss`` below an hour, ``h:mm:ss`` from there (as a stopwatch shows it); ``?`` for no number."""
    if not math.isfinite(seconds):
        return "?"
    whole = max(0, round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


@dataclass
class RunProgress:
    """Where a run stands: its cases in run order, each with the keys (most specific first) that say which finished
    cases it should take as long as; what finished, how, and in how many seconds."""

    keys: dict[str, tuple[Hashable, ...]]
    """Each case's estimate keys, by case (pytest node id), e.g. ``((model, engine, compression), (model, engine),
    (model,))``; the last resort, every finished case, needs no key."""
    started_at: float
    prior: dict[str, float] = field(default_factory=dict)
    """Seconds a case took when it last ran on this machine, by case (:func:`bench.results.past_case_seconds`)."""
    durations: dict[str, float] = field(default_factory=dict)
    outcomes: dict[str, str] = field(default_factory=dict)
    """``ok``, ``failed``, ``error`` or ``skipped``, by finished case."""
    current: str | None = None
    current_label: str = ""
    _current_since: float = 0.0

    def start(self, case: str, label: str, now: float) -> None:
        self.current, self.current_label, self._current_since = case, label, now

    def finish(self, case: str, outcome: str, now: float) -> None:
        since = self._current_since if case == self.current else now
        self.durations[case] = max(0.0, now - since)
        self.outcomes[case] = outcome
        if case == self.current:
            self.current, self.current_label = None, ""

    @property
    def total(self) -> int:
        return len(self.keys)

    @property
    def done(self) -> int:
        return sum(case in self.keys for case in self.durations)

    def count(self, outcome: str) -> int:
        return sum(1 for case, got in self.outcomes.items() if got == outcome and case in self.keys)

    def left_s(self, now: float) -> float | None:
        """Seconds the cases not yet finished should still take, or ``None`` while some case has nothing to go by.

        A case that ran on this machine before (:attr:`prior`) is expected to take that long again, times this
        run's :meth:`pace`. Any other case is expected to take as long as the finished cases most like it
        (:attr:`keys`); only the cases measured in full (``ok``) count while there are any (a skipped case takes no
        time, a failed one stops early). The case now running is expected to take its estimate, less what it has
        already run (never below nothing)."""
        finished = [case for case in self.keys if case in self.durations]
        finished = [case for case in finished if self.outcomes.get(case) == "ok"] or finished
        pace = self.pace()
        means: dict[Hashable, list[float]] = {}
        for case in finished:
            for key in self.keys[case]:
                means.setdefault(key, []).append(self.durations[case])
        overall = sum(self.durations[case] for case in finished) / len(finished) if finished else None
        left = 0.0
        for case, keys in self.keys.items():
            if case in self.durations:
                continue
            like = next((means[key] for key in keys if key in means), None)
            if case in self.prior:
                expected = self.prior[case] * pace
            elif like:
                expected = sum(like) / len(like)
            elif overall is not None:
                expected = overall
            else:
                return None
            if case == self.current:
                expected = max(0.0, expected - (now - self._current_since))
            left += expected
        return left if math.isfinite(left) else None

    def pace(self) -> float:
        """How fast this run goes against the earlier one: the median, over the ``ok`` cases finished that ran
        before for at least :data:`PACE_FLOOR_S`, of what each took now over what it took then, kept within
        :data:`PACE_BOUNDS` (1 before any). The median, so that one case that paid a cold start (a model trained,
        a graph compiled) in one run and not the other does not scale every case left."""
        ratios = [
            self.durations[case] / self.prior[case]
            for case in self.keys
            if case in self.durations and self.outcomes.get(case) == "ok" and self.prior.get(case, 0) >= PACE_FLOOR_S
        ]
        low, high = PACE_BOUNDS
        return min(high, max(low, statistics.median(ratios))) if ratios else 1.0


PACE_FLOOR_S = 0.05
"""Earlier times shorter than this say nothing of a run's pace (a ratio to a near-zero time is noise)."""
PACE_BOUNDS = (0.25, 4.0)
"""A run four times faster or slower than the earlier one is taken as that, no more: the estimate stays a plan."""


def progress_line(progress: RunProgress, now: float, width: int, bar: bool = True, ascii_only: bool = False):
    """The line as a rich renderable, at most ``width`` columns: bar (``bar``: drawn in colour, so left out without
    it), count, elapsed, estimate, how many failed, errored or were skipped so far, then the case that runs, cut
    with an ellipsis where the line is too narrow for all of it (``...`` on a terminal whose encoding is not a
    Unicode one, ``ascii_only``: rich's bar then draws with ``-`` too)."""
    from rich.progress_bar import ProgressBar
    from rich.table import Table
    from rich.text import Text

    parts = Text(f"{progress.done}/{progress.total}", style="bold")
    parts.append(f"  {clock(now - progress.started_at)} elapsed", style="dim")
    left = progress.left_s(now)
    if left is not None and progress.done < progress.total:
        parts.append(f"  ~{clock(left)} left", style="cyan")
    for outcome, style in (("failed", "red"), ("error", "red"), ("skipped", "yellow")):
        if progress.count(outcome):
            parts.append(f"  {progress.count(outcome)} {outcome}", style=style)
    grid = Table.grid(padding=(0, 2))
    cells = []
    if bar:
        bar_width = min(20, max(8, width // 10))
        grid.add_column(width=bar_width, no_wrap=True)
        cells.append(ProgressBar(total=max(progress.total, 1), completed=progress.done, width=bar_width))
    grid.add_column(no_wrap=True)
    cells.append(parts)
    room = width - sum(column.width or 0 for column in grid.columns) - parts.cell_len - 2 * len(grid.columns)
    if progress.current_label and room >= 8:  # the table would squeeze every column alike: cut the case name only
        label = Text(progress.current_label, no_wrap=True)
        if ascii_only and label.cell_len > room:
            label.truncate(room - 3)
            label.append("...")
        else:
            label.truncate(room, overflow="ellipsis")
        grid.add_column(no_wrap=True)
        cells.append(label)
    grid.add_row(*cells)
    return grid


class ProgressDisplay:
    """The plugin's terminal side (registered as a pytest plugin only for a run that draws the line): pytest's dots
    for these cases are turned off, the line is drawn as each case starts, cleared as it ends, and a failed case
    leaves a ``FAILED`` line above it (``ERROR`` for an error in its set-up or teardown)."""

    def __init__(
        self,
        stream: IO[str],
        cases: Sequence[tuple[str, str, tuple[Hashable, ...]]],
        color: bool,
        force: bool,
        clock_s: Callable[[], float] = time.perf_counter,
        prior: dict[str, float] | None = None,
    ):
        from rich.console import Console

        self.color = color
        self.console = Console(
            file=stream,
            force_terminal=True if force else None,
            color_system="auto" if color else None,
            highlight=False,
            soft_wrap=False,
        )
        self.labels = {nodeid: label for nodeid, label, _ in cases}
        self.now = clock_s
        keys = {nodeid: keys for nodeid, _, keys in cases}
        self.progress = RunProgress(keys, started_at=self.now(), prior=dict(prior or {}))
        self._worst: dict[str, str] = {}
        self._drawn = False
        self.off = False

    def _write(self, text: str) -> None:
        """Write to the terminal; a write the terminal refuses turns the line off for the rest of the run (a
        progress line never stops a run), and a character its encoding lacks is replaced, as pytest's writer does."""
        if self.off:
            return
        file = self.console.file
        encoding = getattr(file, "encoding", None) or "utf-8"
        try:
            file.write(text.encode(encoding, errors="replace").decode(encoding))
            file.flush()
        except (OSError, ValueError, LookupError):  # a closed or broken terminal, an unknown encoding
            self.off = True

    def _styled(self, text: str, style: str) -> str:
        try:
            with self.console.capture() as captured:
                self.console.print(text, style=style, end="", markup=False)
        except (OSError, ValueError):
            self.off = True
            return text
        return captured.get()

    def draw(self) -> None:
        if self.off:
            return
        width = max(20, self.console.width - 1)  # the last column would wrap on some terminals
        try:  # a progress line never stops a run: what it cannot draw, it stops drawing
            line = progress_line(self.progress, self.now(), width, self.color, self.console.options.ascii_only)
            with self.console.capture() as captured:  # rich flushes its (empty) buffer to the terminal on the way out
                self.console.print(line, width=width, end="")
        except (OSError, ValueError, ArithmeticError):
            self.off = True
            return
        self._write("\r\x1b[2K" + captured.get().rstrip("\n").split("\n")[0])
        self._drawn = True

    def clear(self) -> None:
        if self._drawn:
            self._write("\r\x1b[2K")
            self._drawn = False

    def after_the_cases(self, what: str) -> None:
        """Say what the run does once its cases are done (``writing the report``), until the session ends."""
        self.progress.current_label = what
        self.draw()

    @pytest.hookimpl(trylast=True)  # after pytest's own, which writes nothing for these cases now
    def pytest_runtest_logstart(self, nodeid: str, location) -> None:
        if nodeid in self.labels:
            self.progress.start(nodeid, self.labels[nodeid], self.now())
            self.draw()

    @pytest.hookimpl(wrapper=True)
    def pytest_report_teststatus(self, report, config):
        result = yield
        if report.nodeid != self.progress.current or not result:  # pytest's summary at the end asks for its word
            return result
        category = result[0]
        outcome = {"passed": "ok", "failed": "failed", "error": "error", "skipped": "skipped"}.get(category)
        if outcome is not None and _RANK[outcome] > _RANK[self._worst.get(report.nodeid, "ok")]:
            self._worst[report.nodeid] = outcome
        return category, "", ""  # no dot, no letter, no word while the case runs: the line says it

    def pytest_runtest_logfinish(self, nodeid: str, location) -> None:
        if nodeid not in self.labels:
            return
        outcome = self._worst.pop(nodeid, "ok")
        self.progress.finish(nodeid, outcome, self.now())
        self.clear()
        if outcome in ("failed", "error"):
            self._write(f"{self._styled(outcome.upper(), 'red')} {self.labels[nodeid]}\n")

    @pytest.hookimpl(tryfirst=True)
    def pytest_keyboard_interrupt(self, excinfo) -> None:
        self.clear()

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session) -> None:
        self.clear()


_RANK = {"ok": 0, "skipped": 1, "failed": 2, "error": 3}
"""A case's outcome is its worst phase's (pytest's summary counts an error in set-up or teardown apart)."""


def wanted(config: pytest.Config, stream: Any) -> str | None:
    """How the run shows its progress: ``"terminal"`` (the line: ``auto`` on a terminal), ``"force"`` (the line into
    whatever the output is: ``--bench-progress bar``) or ``None`` (pytest's own: ``dots``; under ``auto`` also output
    that is not a terminal or is a ``TERM=dumb`` one, and whatever else would print into the line as a case runs:
    :func:`_runs_into_the_line`)."""
    choice = config.getoption("--bench-progress", "auto")
    if choice == "dots":
        return None
    if choice == "bar":
        return "force"
    if _runs_into_the_line(config) or os.environ.get("TERM") in ("dumb", "unknown"):
        return None  # a dumb terminal cannot erase a line (an editor's shell buffer)
    isatty = getattr(stream, "isatty", None)
    return "terminal" if callable(isatty) and isatty() else None


def progress_problem(config: pytest.Config, option: str = "--bench-progress") -> str | None:
    """The one line that refuses ``--bench-progress bar`` (``option``: as the user spelled it, ``bench run
    --progress``) beside an option whose output would run into the line."""
    if config.getoption("--bench-progress", "auto") != "bar":
        return None
    clash = _runs_into_the_line(config)
    return f"{option} bar: {clash}; drop one of them" if clash else None


def _runs_into_the_line(config: pytest.Config) -> str | None:
    """What else would print into the line while a case runs, or ``None``: pytest's own line per case (``-v``,
    ``-o verbosity_test_cases=1``), live logs (``--log-cli-level``, ``log_cli``: they also turn ``-v`` on), a
    case's own output let through (``-s``, ``--capture=tee-sys``)."""
    cases = getattr(pytest.Config, "VERBOSITY_TEST_CASES", None)  # pytest 8.1 and later
    verbosity = config.get_verbosity(cases) if cases else config.option.verbose
    if verbosity > 0:
        return "-v (or verbosity_test_cases) prints pytest's own line for each case"
    try:
        live_logs = config.getoption("--log-cli-level", None) is not None or bool(config.getini("log_cli"))
    except ValueError:  # -p no:logging: pytest's logging plugin, and its ini keys, are not there
        live_logs = False
    if live_logs:
        return "live logs (log_cli, --log-cli-level) print into the run's output as each case runs"
    if config.getoption("capture", "fd") in ("no", "tee-sys"):
        return "-s (or --capture=tee-sys) lets each case's own output through, into the line"
    return None


def estimate_keys(model: str, engine: str, compression: str) -> tuple[Hashable, ...]:
    """The keys :class:`RunProgress` estimates a case's time by, most specific first."""
    return ((model, engine, compression), (model, engine), (model,))
