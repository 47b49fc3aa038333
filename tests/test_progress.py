"""The run's progress line: its estimate of the time left, its width, and the plugin drawing it in place of pytest's
dots (``--bench-progress``)."""

from __future__ import annotations

import re

import pytest

from bench.progress import RunProgress, clock, progress_line
from tests.helpers import TINY_MEASURE

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def test_clock_reads_as_a_stopwatch():
    assert [clock(s) for s in (0, 59.4, 61, 3599, 3600, 3725)] == [
        "0:00",
        "0:59",
        "1:01",
        "59:59",
        "1:00:00",
        "1:02:05",
    ]
    assert clock(-3) == "0:00"


def run_of(keys: dict[str, tuple]) -> RunProgress:
    return RunProgress(keys, started_at=0.0)


def test_no_estimate_before_a_case_has_finished():
    progress = run_of({"a": (("m",),), "b": (("m",),)})
    progress.start("a", "A", 0.0)
    assert progress.left_s(5.0) is None
    assert (progress.done, progress.total) == (0, 2)


def test_each_case_left_takes_as_long_as_the_finished_cases_most_like_it():
    eager, compiled = ("m", "eager"), ("m", "compile")
    progress = run_of(
        {
            "e1": (eager, ("m",)),
            "c1": (compiled, ("m",)),
            "e2": (eager, ("m",)),
            "c2": (compiled, ("m",)),
            "other": (("n", "eager"), ("n",)),
        }
    )
    progress.start("e1", "E1", 0.0)
    progress.finish("e1", "ok", 2.0)
    progress.start("c1", "C1", 2.0)
    progress.finish("c1", "ok", 22.0)
    # e2 like e1 (2 s), c2 like c1 (20 s), the other model like every finished case (11 s on average)
    assert progress.left_s(22.0) == pytest.approx(2 + 20 + 11)
    assert progress.done == 2 and progress.count("ok") == 2


def test_the_running_case_is_expected_to_take_its_estimate_less_what_it_ran_and_never_less_than_nothing():
    progress = run_of({"a": (("m",),), "b": (("m",),), "c": (("m",),)})
    progress.start("a", "A", 0.0)
    progress.finish("a", "ok", 10.0)
    progress.start("b", "B", 10.0)
    assert progress.left_s(14.0) == pytest.approx(6 + 10)
    assert progress.left_s(35.0) == pytest.approx(0 + 10), "a case that overruns its estimate counts as nothing left"


def test_only_cases_measured_in_full_set_the_pace_once_there_are_any():
    """A skipped case takes no time and a failed one stops early: counted in, every case like them looked cheap."""
    progress = run_of({c: (("m",),) for c in "abcd"})
    progress.start("a", "A", 0.0)
    progress.finish("a", "skipped", 0.0)
    assert progress.left_s(0.0) == 0.0, "before any ok case, the finished ones are all there is"
    progress.start("b", "B", 0.0)
    progress.finish("b", "ok", 8.0)
    progress.start("c", "C", 8.0)
    progress.finish("c", "failed", 9.0)
    assert progress.left_s(9.0) == pytest.approx(8.0)  # d takes as long as b, not as the mean of a, b and c


def test_a_case_that_ran_here_before_takes_what_it_took_then_at_this_run_s_pace():
    keys = {c: ((c,),) for c in "abc"}  # no two cases alike: only the earlier run can say
    progress = RunProgress(keys, started_at=0.0, prior={"a": 2.0, "b": 4.0})
    assert progress.left_s(0.0) is None, "c has nothing to go by yet"
    progress = RunProgress(keys, started_at=0.0, prior={"a": 2.0, "b": 4.0, "c": 10.0})
    assert progress.left_s(0.0) == pytest.approx(16.0), "from the first line, before any case finished"
    progress.start("a", "A", 0.0)
    progress.finish("a", "ok", 3.0)  # this run goes at 1.5 times the earlier one's pace
    assert progress.left_s(3.0) == pytest.approx(1.5 * (4.0 + 10.0))


def test_the_pace_is_a_bounded_median_of_cases_measured_in_full_and_never_makes_the_estimate_infinite():
    """Review: an earlier time of 5e-324 s made the pace infinite and the line raised (INTERNALERROR); one case that
    paid a cold start scaled every case left 20 times; a fast failure set the pace."""
    keys = {c: ((c,),) for c in "abcdef"}
    prior = {"a": 1e-320, "b": 2.0, "c": 2.0, "d": 2.0, "e": 60.0, "f": 1.0}
    progress = RunProgress(keys, started_at=0.0, prior=prior)
    progress.start("a", "A", 0.0)
    progress.finish("a", "ok", 1.0)  # an earlier time too short to say anything: no pace from it
    assert progress.pace() == 1.0 and progress.left_s(1.0) == pytest.approx(2 + 2 + 2 + 60 + 1)
    progress.start("e", "E", 1.0)
    progress.finish("e", "failed", 1.5)  # a fast failure says nothing of the pace either
    assert progress.pace() == 1.0
    progress.start("b", "B", 1.5)
    progress.finish("b", "ok", 41.5)  # a cold start: 20 times its earlier time
    assert progress.pace() == 4.0, "bounded"
    progress.start("c", "C", 41.5)
    progress.finish("c", "ok", 43.5)
    progress.start("d", "D", 43.5)
    progress.finish("d", "ok", 45.5)
    assert progress.pace() == 1.0, "the median of 20, 1 and 1"
    assert progress.left_s(45.5) == pytest.approx(1.0)
    assert clock(float("inf")) == "?" and clock(float("nan")) == "?"


def test_failed_and_skipped_cases_are_counted_and_every_case_finishes_once():
    progress = run_of({c: (("m",),) for c in "abc"})
    for at, (case, outcome) in enumerate((("a", "failed"), ("b", "skipped"), ("c", "ok"))):
        progress.start(case, case.upper(), float(at))
        progress.finish(case, outcome, at + 1.0)
    assert (progress.done, progress.count("failed"), progress.count("skipped"), progress.count("ok")) == (3, 1, 1, 1)
    assert progress.left_s(3.0) == 0.0
    assert progress.current is None


def rendered(progress: RunProgress, now: float, width: int, bar: bool = True) -> str:
    from rich.console import Console

    console = Console(width=width + 1, force_terminal=True, color_system=None)
    with console.capture() as captured:
        console.print(progress_line(progress, now, width, bar), width=width, end="")
    return captured.get().rstrip("\n")


@pytest.mark.parametrize("width", [40, 79, 120, 200])
def test_the_line_fits_its_width_and_cuts_the_case_name_first(width):
    progress = run_of({f"c{i}": (("m",),) for i in range(12)})
    progress.start("c0", "suite::m[fp32-cpu-1t-bs8]", 0.0)
    progress.finish("c0", "failed", 3.0)
    long_name = "suite::a-rather-long-model-name[int8-dynamic-compile-cuda0-bs64]"
    progress.start("c1", long_name, 3.0)
    line = rendered(progress, 5.0, width)
    assert "\n" not in line and len(line) <= width
    assert "1/12" in line
    if width >= 79:
        assert "0:05 elapsed" in line and "~0:31 left" in line and "1 failed" in line
        assert long_name in line or "…" in line
    if width >= 120:
        assert long_name in line


def test_without_colour_the_line_leaves_the_bar_out():
    progress = run_of({"a": (("m",),), "b": (("m",),)})
    progress.start("a", "suite::m[fp32]", 0.0)
    assert rendered(progress, 1.0, 80, bar=False).startswith("0/2  0:01 elapsed  suite::m[fp32]")
    with_bar = rendered(progress, 1.0, 80, bar=True)
    assert not with_bar.startswith("0/2") and "0/2  0:01 elapsed  suite::m[fp32]" in with_bar


FLAKY = (
    "suite: flaky\nmodels: [{factory: 'tests.fakes.models:build', name: lin, params: {fail_at_batch: 3}}]\n"
    "batch_sizes: [1, 2, 3]\n" + TINY_MEASURE
)


@pytest.fixture
def flaky(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makefile(".yaml", **{"suites/flaky": FLAKY})
    return pytester


def drawn(output: str) -> list[str]:
    """What the output shows, line by line, once the line's erase codes are taken out (pytester's output has its
    carriage returns as line ends)."""
    return [line.strip() for line in ANSI.sub("", output).replace("\r", "\n").split("\n") if line.strip()]


def test_the_line_replaces_pytests_dots_names_each_case_and_leaves_a_line_for_a_failed_one(flaky):
    result = flaky.runpytest(
        "--benchmark-only", "suites/flaky.yaml", "--bench-results", "out", "--bench-progress", "bar"
    )
    result.assert_outcomes(passed=2, failed=1)
    out = result.stdout.str()
    assert "suites/flaky.yaml " not in out and ".F." not in out, "pytest's dots are gone"
    lines = drawn(out)
    shown = [line for line in lines if re.match(r"\d/3  ", line)]
    assert [line[:3] for line in shown] == ["0/3", "1/3", "2/3"]
    assert sorted(line.split("  ")[-1] for line in shown) == [f"flaky::lin[fp32-cpu-1t-bs{b}]" for b in (1, 2, 3)]
    assert "left" not in shown[0] and all("left" in line for line in shown[1:])
    failed_at = lines.index("FAILED flaky::lin[fp32-cpu-1t-bs3]")  # the largest batch runs first (host_first)
    after = [line for i, line in enumerate(lines) if i > failed_at and line in shown]
    assert after and all("1 failed" in line for line in after)
    assert not any("failed" in line for i, line in enumerate(lines) if i < failed_at and line in shown)
    erased = out.split("\x1b[2K")  # what follows each erase: a drawn line, until the next erase clears it
    assert all(not re.match(r"\d/3  ", ANSI.sub("", part)) for part in erased[:1] + erased[-1:])
    result.stdout.fnmatch_lines(["FAILED suites/flaky.yaml::flaky::lin[[]fp32-cpu-1t-bs3[]]*"])  # pytest's summary


def test_the_line_says_the_report_is_being_written_after_the_last_case(pytester):
    pytester.makefile(".yaml", **{"suites/nop": "suite: nop\nmodels: [noop]\nbatch_sizes: [1, 2]\n" + TINY_MEASURE})
    args = ["--benchmark-only", "suites/", "--bench-results", "out", "--bench-run-id", "r1", "--bench-report"]
    result = pytester.runpytest(*args, "--bench-progress", "bar")
    result.assert_outcomes(passed=2)
    lines = drawn(result.stdout.str())
    (last,) = [line for line in lines if line.startswith("2/2")]
    assert last.endswith("writing the report of r1") and "left" not in last
    result.stdout.fnmatch_lines(["report: *r1*index.html"])


def test_a_second_run_of_a_suite_here_estimates_the_time_left_from_its_first_line(pytester):
    pytester.makefile(".yaml", **{"suites/nop": "suite: nop\nmodels: [noop]\nbatch_sizes: [1, 2, 3]\n" + TINY_MEASURE})
    args = ["--benchmark-only", "suites/", "--bench-results", "out", "--bench-progress", "bar"]
    first = drawn(pytester.runpytest(*args).stdout.str())
    second = drawn(pytester.runpytest(*args).stdout.str())
    assert "left" not in next(line for line in first if line.startswith("0/3")), "nothing to go by yet"
    assert "left" in next(line for line in second if line.startswith("0/3")), "the first run's records say"


def test_auto_keeps_pytests_dots_where_the_output_is_not_a_terminal(flaky):
    result = flaky.runpytest("--benchmark-only", "suites/flaky.yaml", "--bench-results", "out")
    result.assert_outcomes(passed=2, failed=1)
    assert "\x1b[2K" not in result.stdout.str()
    result.stdout.fnmatch_lines(["suites/flaky.yaml [.F][.F][.F] *"])


@pytest.mark.parametrize(
    ("other", "why"),
    [
        (["-v"], "-v (or verbosity_test_cases) prints pytest's own line for each case"),
        (["-o", "verbosity_test_cases=1"], "-v (or verbosity_test_cases) prints pytest's own line for each case"),
        (["--log-cli-level", "INFO"], "live logs (log_cli, --log-cli-level) print into the run's output*"),
        (["-s"], "-s (or --capture=tee-sys) lets each case's own output through, into the line"),
        (["--capture", "tee-sys"], "-s (or --capture=tee-sys) lets each case's own output through, into the line"),
    ],
)
def test_bar_beside_an_option_whose_output_would_run_into_it_is_one_line(flaky, other, why):
    result = flaky.runpytest("--benchmark-only", "suites/flaky.yaml", "--bench-progress", "bar", *other)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: --bench-progress bar: {why}*drop one of them"])
    assert not (flaky.path / "results").exists()


class _Stream:
    def __init__(self, tty: bool):
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


@pytest.mark.parametrize(
    ("args", "tty", "term", "expected"),
    [
        ([], True, "xterm-256color", "terminal"),
        (["-q"], True, "xterm", "terminal"),  # still one line, not dots
        ([], False, "xterm", None),  # a CI log, | tee
        ([], True, "dumb", None),  # cannot erase a line
        ([], True, "unknown", None),
        (["-v"], True, "xterm", None),  # pytest's line per case
        (["-o", "verbosity_test_cases=1"], True, "xterm", None),
        (["-o", "log_cli=true"], True, "xterm", None),  # live logs; pytest turns -v on for them
        (["-s"], True, "xterm", None),  # a case's prints would land in the line
        (["--capture=tee-sys"], True, "xterm", None),
        (["--bench-progress", "dots"], True, "xterm", None),
        (["--bench-progress", "bar"], False, "dumb", "force"),
    ],
)
def test_auto_draws_the_line_only_on_a_terminal_nothing_else_prints_into(
    pytester, monkeypatch, args, tty, term, expected
):
    from bench.progress import wanted

    monkeypatch.setenv("TERM", term)
    assert wanted(pytester.parseconfig(*args), _Stream(tty)) == expected


def test_a_terminal_whose_encoding_lacks_the_bar_and_ellipsis_gets_ascii_and_the_run_goes_on(monkeypatch):
    """On an ASCII terminal the cut case name's "…" raised UnicodeEncodeError inside a pytest hook: INTERNALERROR
    after the first case, the run's other cases never ran."""
    import io

    from bench.progress import ProgressDisplay

    monkeypatch.setenv("COLUMNS", "50")
    raw = io.BytesIO()
    stream = io.TextIOWrapper(raw, encoding="ascii", write_through=True)
    cases = [(f"n{i}", f"suite::a-long-model-name[int8-dynamic-cpu-2t-bs{i}]", (("m",),)) for i in range(3)]
    display = ProgressDisplay(stream, cases, color=True, force=True, clock_s=iter(range(100)).__next__)
    for nodeid, _, _ in cases:
        display.pytest_runtest_logstart(nodeid, None)
        display.pytest_runtest_logfinish(nodeid, None)
    text = raw.getvalue().decode("ascii")  # every byte is ASCII
    assert "..." in text and "3/3" not in text and "2/3" in text and not display.off


def test_a_terminal_that_refuses_a_write_turns_the_line_off_not_the_run():
    from bench.progress import ProgressDisplay

    class Closed:
        encoding = "utf-8"

        def write(self, text):
            raise OSError(5, "Input/output error")

        def flush(self):
            pass

        def isatty(self):
            return True

    display = ProgressDisplay(Closed(), [("n", "s::m[fp32]", (("m",),))], color=False, force=True)
    display.pytest_runtest_logstart("n", None)
    display.pytest_runtest_logfinish("n", None)
    assert display.off and display.progress.done == 1


def test_on_a_real_terminal_auto_draws_the_line(flaky):
    """``auto`` reads the terminal pytest writes to: a pseudo-terminal here, as a user's shell gives it."""
    import os
    import subprocess
    import sys
    import threading
    from pathlib import Path

    leader, follower = os.openpty()
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1]), "TERM": "xterm", "COLUMNS": "100"}
    command = [sys.executable, "-m", "pytest", "--benchmark-only", "suites/flaky.yaml", "--bench-results", "out"]
    chunks: list[bytes] = []

    def read() -> None:
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the terminal closed with the process
                return
            if not chunk:
                return
            chunks.append(chunk)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    process = subprocess.run(
        command,
        cwd=flaky.path,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=follower,
        stderr=follower,
        timeout=300,
        check=False,
    )
    os.close(follower)
    reader.join(timeout=30)
    os.close(leader)
    out = b"".join(chunks).decode("utf-8", errors="replace")
    assert process.returncode == 1, out[-3000:]  # one case fails
    assert "\r\x1b[2K" in out and "suites/flaky.yaml " not in out, out[-3000:]
    lines = drawn(out)
    assert any(re.match(r"\S*\s*2/3  ", line) for line in lines), lines
    assert "FAILED flaky::lin[fp32-cpu-1t-bs3]" in lines
