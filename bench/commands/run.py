"""``bench run SUITE...``: the same path as ``pytest --benchmark-only SUITE...`` (it calls pytest)."""

from __future__ import annotations

import argparse
import os
import signal
from typing import Any

from bench.commands._args import check_terminal_width, default_here, folder, run_id, suite_path
from bench.errors import BenchError, counted, did_you_mean, os_reason

# pytest plugins that other packages install and a suite run never uses; hypothesis alone takes 1.3 s to import
UNUSED_PLUGINS = ("hypothesispytest", "anyio")


def suite_args(paths: list[str]) -> list[str]:
    """The suite paths for pytest: a folder with suite files of which pytest would collect none (it collects them from
    a folder only inside one named ``suites``: :func:`bench.suite.files.in_suites_folder`) is replaced by its suite
    files, so that ``bench run FOLDER`` runs what ``bench validate FOLDER`` validates (it ran nothing: "no tests
    ran"). A folder with a ``suites`` folder in it (a project's root) is left to pytest's rule.

    What pytest would run nothing of, or choke on, is a :class:`BenchError` naming it: a folder without suite files
    and a file that is not one ("no tests ran"), a shared fragment ("not found"), a file name that is not UTF-8 text
    (a failure after the last case) and a link to a folder above it (a walk for ever)."""
    from pathlib import Path

    from bench.suite.files import SUITE_SUFFIXES, discover, fragment_line, in_suites_folder, is_suite_file

    given = []
    for path in paths:
        file = path.split("::", 1)[0]  # a pytest node id names its suite file
        folder = os.path.isdir(file)
        if not folder and not is_suite_file(Path(file)):  # the plugin would not collect it
            if Path(file).suffix in SUITE_SUFFIXES:
                raise BenchError(fragment_line(file))
            raise BenchError(f"{file}: not a suite file; suite files end in .yaml or .yml")
        root = folder and os.path.isdir(os.path.join(file, "suites"))  # a project's root: its .venv is not walked
        files = discover([os.path.join(file, "suites") if root else file]) if folder else [Path(file)]
        if not files:  # pytest would say "no tests ran" (exit 5)
            where = "its suites folder" if root else "this folder"
            raise BenchError(f"{file}: no suite files in {where} (*.yaml or *.yml, not starting with '_')")
        _utf8_names(files)
        if root:
            given.append(path)
            continue
        inside = in_suites_folder(os.path.join(file, "x.yaml"))
        given += [str(f) for f in files] if folder and not inside and not any(map(in_suites_folder, files)) else [path]
    return given


def _utf8_names(files) -> None:
    """One line for a suite file whose name is not UTF-8 text (:func:`bench.suite.files.name_problem`)."""
    from bench.suite.files import name_problem

    for found in files:
        problem = name_problem(found)
        if problem:
            raise BenchError(problem)


def pytest_args(args: argparse.Namespace, extra: list[str]) -> list[str]:
    command = ["--benchmark-only", *suite_args(args.suites)]
    for plugin in UNUSED_PLUGINS:
        command += ["-p", f"no:{plugin}"]
    for plugin_option, own in PLUGIN_TWINS.items():  # bench run's options, in the plugin's spelling
        value = _given(args, own)
        command += [] if value is None else [plugin_option] if value is True else [plugin_option, value]
    if args.k:
        command += ["-k", args.k]
    return command + default_folders(args, extra) + [arg for arg in extra if arg != "--"]


def _options_given(extra: list[str]) -> set[str]:
    """The options among the arguments passed on to pytest, by name (``--bench-results=DIR`` as ``--bench-results``)."""
    return {arg.split("=", 1)[0] for arg in extra}


ROOTDIR_OPTIONS = ("--rootdir", "--config-file", "--inifile", "-c")
"""pytest's options that choose its rootdir: given, the plugin's folders follow it (``<rootdir>/results``)."""


def default_folders(args: argparse.Namespace, extra: list[str]) -> list[str]:
    """The plugin's results and reports folders at every ``bench`` command's defaults, ``<project root>/results``
    and ``/reports`` (:func:`bench.results.project_root`, from the current folder), where nothing else chose them:
    pytest's own rootdir starts from the folder holding both the current folder and the suites named, so a suite
    outside the project (``bench run ../other/s.yaml``) had its run written where ``bench report``, ``gate`` and
    ``results`` never look (``../results``; ``/results`` for a suite in ``/opt``). Left to the plugin when
    ``--results``, ``$BENCH_RESULTS_DIR`` / ``$BENCH_REPORTS_DIR``, the plugin's own options or pytest's
    ``--rootdir`` / ``-c`` chose them."""
    from bench.results import DEFAULT_RESULTS_DIR, project_root

    given = _options_given(extra)
    if given & set(ROOTDIR_OPTIONS) or any(arg.startswith("-c") and not arg.startswith("--") for arg in extra):
        return []
    root = project_root()
    folders = []
    if args.results is None and not os.environ.get("BENCH_RESULTS_DIR") and "--bench-results" not in given:
        folders += ["--bench-results", str(root / DEFAULT_RESULTS_DIR)]
    if not os.environ.get("BENCH_REPORTS_DIR") and "--bench-reports-dir" not in given:
        folders += ["--bench-reports-dir", str(root / "reports")]
    return folders


def _given(args: argparse.Namespace, option: str) -> Any:
    """The value of ``bench run``'s ``option`` (``--run-id``) in ``args``; ``None`` when it was not given (a flag
    left off, an option a caller's namespace lacks)."""
    value = getattr(args, option[2:].replace("-", "_"), None)
    return None if value in (None, False, "") else value


def own_options() -> tuple[str, ...]:
    """``bench run``'s own option strings (``--results``, ``-k``, ...; not ``--help``), read off the options that
    :func:`add_arguments` gives a parser, so that an option added there is known here: the arguments not among them
    go to pytest."""
    parser = argparse.ArgumentParser(add_help=False)
    add_arguments(parser)
    # argparse lists a parser's options only in its _actions (no public accessor)
    return tuple(option for action in parser._actions for option in action.option_strings)


NEEDED_PLUGINS = {
    "bench": "the bench plugin, which collects the suites",
    "benchmark": "pytest-benchmark, which times them",
}


def disabled_plugin(extra: list[str]) -> str | None:
    """The ``no:NAME`` of a ``-p no:NAME`` (or ``-pno:NAME``) among the pytest arguments that turns off a plugin a
    suite run needs, or ``None``."""
    for i, arg in enumerate(extra):
        value = extra[i + 1] if arg == "-p" and i + 1 < len(extra) else arg[2:] if arg.startswith("-p") else ""
        if value.startswith("no:") and value[3:] in NEEDED_PLUGINS:
            return value
    return None


STOPPED_EXIT = {"Ctrl-C": 128 + signal.SIGINT, "SIGTERM": 128 + signal.SIGTERM}
"""``bench run``'s exit status when a signal stopped the run: 130 and 143, as a shell reports a process that signal
ended (pytest's own is 2 for both, the status of a suite it could not collect)."""


class _StopWatch:
    """A pytest plugin that keeps the session's configuration, to read once pytest is done (or a Ctrl-C escaped it)
    what stopped the session and what the run holds."""

    config = None
    failed = 0
    resume_option = "--resume"
    """What the user called ``--bench-resume``, for the plugin's errors about the run to resume."""
    results_option = "--results"
    """What the user called ``--bench-results``, for the plugin's errors about the results folder."""
    progress_option = "--progress"
    """What the user called ``--bench-progress``, for the plugin's error about the progress line."""
    run_id_option = "--run-id"
    """What the user called ``--bench-run-id``, for the plugin's errors about the run id."""
    one_line_failures = True
    """A failed case is reported in its one line, without pytest's traceback unless ``--tb`` or ``--full-trace`` asks
    for it (:func:`bench.plugin.one_line_failures`)."""

    def __init__(self, extra: list[str] = ()) -> None:
        from bench.plugin import OPTIONS_OF_BENCH_RUN

        given = _options_given(extra)
        for plugin_option, attribute in OPTIONS_OF_BENCH_RUN.items():
            if plugin_option in given:  # passed on to pytest in the plugin's spelling: its errors name that one
                setattr(self, attribute, plugin_option)

    def pytest_configure(self, config) -> None:
        self.config = config

    def stopped_by(self) -> str | None:
        """``Ctrl-C`` or ``SIGTERM`` when one stopped the session, else ``None``."""
        from bench.plugin import stopped_by

        return None if self.config is None else stopped_by(self.config)

    def stop(self) -> dict[str, str]:
        """What else stopped the session before its last case (``pytest.exit()``, ``-x``: :func:`stop_of`)."""
        from bench.plugin import STOP_KEY

        return {} if self.config is None else self.config.stash.get(STOP_KEY, {})

    def writer(self):
        """The run's writer, or ``None`` when no run was opened (stopped before any case ran)."""
        from bench.plugin import SESSION_KEY

        session = None if self.config is None else self.config.stash.get(SESSION_KEY, None)
        return None if session is None else session.writer

    def pytest_sessionfinish(self, session) -> None:
        self.failed = session.testsfailed


def stopped_line(what: str, writer) -> str:
    """``bench run: <what>``, then what the run kept: nothing when no run was opened (collection was stopped) or no
    case had finished, else how many finished cases are saved and where."""
    if writer is None:
        return f"bench run: {what} before any case ran; nothing was measured"
    finished = sum(writer.counts.values())
    if not finished:
        return f"bench run: {what} before any case finished; nothing was measured"
    cases = "1 finished case is" if finished == 1 else f"{finished} finished cases are"
    return f"bench run: {what}; {cases} saved in {writer.path}"


WRITE_ERROR_EXIT = 2
"""``bench run``'s exit status when the results folder refused the run's writes (as for every ``error:`` line)."""


def resume_command(args: argparse.Namespace, extra: list[str], run_id: str) -> str:
    """The ``bench run`` line that resumes ``run_id``: the suites, the results folder and the pytest arguments (a
    ``-k`` selection) the user gave."""
    import shlex

    given = ["bench", "run", *args.suites] + (["--results", str(args.results)] if args.results else [])
    given += (["-k", args.k] if args.k else []) + (["--report"] if args.report else [])
    given += ["--progress", args.progress] if getattr(args, "progress", None) else []
    return shlex.join([*given, *(arg for arg in extra if arg != "--"), "--resume", run_id])


def write_error_line(writer, again: str | None = None) -> str | None:
    """``bench run: error: cannot write <file>: <why>`` when the results folder refused the run's writes (a full disk,
    a read-only folder) or was removed during the run, with what the run kept and how to measure the rest (``again``:
    the command that resumes it); ``None`` when every write succeeded."""
    if writer is None or not (writer.write_error or writer.close_error):
        return None
    kept, are = counted(writer.saved, "case"), "is" if writer.saved == 1 else "are"
    if writer.write_error is None and writer.removed:  # after its last case, and it could not go back there
        return f"bench run: error: {writer.path} was removed during the run; {written_back(writer)}"
    if writer.write_error is None:  # every case was saved; only the final meta.json was refused
        return f"bench run: error: {writer.close_error}; the {kept} measured {are} saved in {writer.path}"
    if writer.removed:
        saved = written_back(writer)
    elif writer.saved:
        saved = f"the {kept} measured before it {are} saved in {writer.path}"
    else:
        saved = "no case was saved before it"
    also = f" ({writer.close_error}, so the run reads as killed)" if writer.close_error and not writer.removed else ""
    once = "" if writer.removed else "once it can be written, "
    rest = f"{once}{again or f'bench run SUITE --resume {writer.run_id}'} measures the rest"
    return f"bench run: error: {writer.write_error}; {saved}{also}; {rest}"


def written_back(writer) -> str:
    """What became of the cases of a run whose folder was removed during the run (:meth:`RunWriter.close`)."""
    kept, are = counted(writer.saved, "case"), "is" if writer.saved == 1 else "are"
    if writer.kept_in == writer.path:
        return f"the {kept} it measured {are} written back there"
    if writer.kept_in is not None:
        refused = f"could not be written back there ({writer.close_error})"
        return f"the {kept} it measured {refused} and {are} in {writer.kept_in}"
    return f"the {kept} it measured {are} lost: {writer.close_error}, and no temporary folder could take them"


def _interrupted(by: str, writer) -> int:
    """Say that ``by`` (``Ctrl-C``, ``SIGTERM``) stopped the run and what it kept; its exit status."""
    import sys

    shown = "" if by == "Ctrl-C" else f" ({by})"
    print(stopped_line(f"interrupted{shown}", writer), file=sys.stderr)
    return STOPPED_EXIT[by]


def run(args: argparse.Namespace, extra: list[str]) -> int:
    import sys

    import pytest

    from bench.suite.files import SUITE_SUFFIXES

    suite_after = next((arg for arg in extra if arg.endswith(SUITE_SUFFIXES)), None)
    if args.suites is DEFAULT_SUITES and suite_after:  # pytest would run it beside the default suite
        raise BenchError(
            f"{suite_after}: what follows -- goes to pytest, which would run it beside the default "
            f"{DEFAULT_SUITES[0]}; name the suite before --: bench run {suite_after} -- ..."
        )
    default_here(args.suites, DEFAULT_SUITES, "bench run path/to/suite.yaml")
    check_terminal_width()
    off = disabled_plugin(extra)
    if off:  # pytest would only say "not found: suites/..." (no plugin collects YAML) or "unrecognized arguments"
        raise BenchError(f"-p {off}: a suite run needs {NEEDED_PLUGINS[off[3:]]}; drop it")
    for arg in extra:  # the plugin's own spelling of an option bench run was given too: pytest took the last one
        own = PLUGIN_TWINS.get(arg.split("=", 1)[0])
        if own is not None and _given(args, own) is not None:
            raise BenchError(f"{arg.split('=', 1)[0]} is the pytest plugin's spelling of {own}: give one of them")
    watch = _StopWatch(extra)
    try:
        code = int(pytest.main(pytest_args(args, extra), plugins=[watch]))
    except KeyboardInterrupt as stop:  # where pytest does not catch it (as it starts or ends); SIGTERM names itself
        by = "SIGTERM" if stop.args == ("SIGTERM",) else watch.stopped_by() or "Ctrl-C"
        return _interrupted(by, watch.writer())
    except OSError as err:
        config = getattr(watch, "config", None)  # as pytest read it: from the command line, addopts or an ini file
        json_file = config.getoption("benchmark_json", None) if config is not None else None
        if err.filename is not None or json_file is None:
            raise
        # pytest-benchmark writes the file it opened at start-up after the last case (a full disk, /dev/full)
        writer = watch.writer()
        kept = f"; the run's own results are saved in {writer.path}" if writer is not None else ""
        print(flush=True)  # pytest's progress line was left open
        raise BenchError(f"--benchmark-json {json_file}: cannot write it: {os_reason(err)}{kept}") from None
    writer = watch.writer()
    refused = write_error_line(writer, None if writer is None else resume_command(args, extra, writer.run_id))
    if refused is not None:  # pytest's own line (its Exit) does not say what the run kept
        print(refused, file=sys.stderr)
        return WRITE_ERROR_EXIT
    if writer is not None and writer.removed:  # after its last case: nothing was lost, but it was not where it was
        print(f"bench run: warning: {writer.path} was removed during the run; {written_back(writer)}", file=sys.stderr)
    stopped_by = watch.stopped_by()
    if stopped_by is not None:  # pytest says 2, as for a suite it could not collect: a script could not tell
        return _interrupted(stopped_by, watch.writer())
    stop = watch.stop()
    if stop and "stop_reason" in stop:  # pytest.exit(), -x, --stepwise: pytest has said why; say what the run kept
        print(stopped_line(f"stopped by {stop['stopped_by']} ({stop['stop_reason']})", watch.writer()), file=sys.stderr)
        if stop["stopped_by"] == "pytest" and code == pytest.ExitCode.INTERRUPTED and watch.failed:
            return int(pytest.ExitCode.TESTS_FAILED)  # --stepwise after a failed case: not 2, as for a bad suite
        return code
    if code == pytest.ExitCode.USAGE_ERROR:
        # pytest has printed its usage error; a near miss of bench run's own options gets one line more
        for arg in extra:
            option = arg.split("=", 1)[0]
            known = option in PLUGIN_TWINS  # pytest knows it: its error is about the value, not the name
            hint = did_you_mean(option, own_options()) if option.startswith("--") and not known else ""
            if hint:
                print(f"bench run: {option} is passed on to pytest, which does not know it.{hint}", file=sys.stderr)
    return code


PLUGIN_TWINS = {
    "--bench-results": "--results",
    "--bench-run-id": "--run-id",
    "--bench-resume": "--resume",
    "--bench-report": "--report",
    "--bench-progress": "--progress",
}
"""The pytest plugin's options (:func:`bench.plugin.pytest_addoption`) that are ``bench run``'s own under a shorter
name: :func:`pytest_args` passes each of bench run's on in the plugin's spelling; passed on to pytest by the user
they work too, but beside their twin pytest would silently take the last one given."""

PROGRESS_CHOICES = ("auto", "bar", "dots")
"""``--progress``'s choices: the plugin's ``--bench-progress`` (:data:`bench.progress.PROGRESS_CHOICES`), spelled out
here so that ``bench`` starts without importing pytest."""

DEFAULT_SUITES = ["suites/quick.yaml"]
"""The suite ``bench run`` runs when none is named (argparse hands this very list back: see :func:`default_here`)."""


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "run",
        help="run suites (calls pytest --benchmark-only)",
        description="Run suites through pytest --benchmark-only; arguments after the known options go to pytest.",
    )
    add_arguments(parser)
    parser.set_defaults(func=run, accepts_extra=True)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``bench run``'s arguments (every option of it is added here: :func:`own_options` reads them off)."""
    parser.add_argument(
        "suites",
        nargs="*",
        type=suite_path,
        default=DEFAULT_SUITES,
        help="suite files or folders (default: suites/quick.yaml)",
    )
    parser.add_argument(
        "--results",
        metavar="DIR",
        type=folder,
        help="results folder (default: $BENCH_RESULTS_DIR or <rootdir>/results/)",
    )
    ids = parser.add_mutually_exclusive_group()
    ids.add_argument("--run-id", metavar="ID", type=run_id, help="run id (default: UTC time + random suffix)")
    ids.add_argument(
        "--resume",
        metavar="RUN_ID",
        type=run_id,
        help="resume a stopped run: run only its cases without a record, appending to the same run",
    )
    parser.add_argument("-k", metavar="EXPR", help="select cases, as pytest -k")
    parser.add_argument(
        "--report",
        action="store_true",
        help="write the report at the end, as bench report ($BENCH_REPORTS_DIR or <rootdir>/reports, then <run_id>/)",
    )
    parser.add_argument(
        "--progress",
        choices=PROGRESS_CHOICES,
        help="bar: one line with the case that runs, the count and the time left; dots: pytest's own; auto "
        "(default): the line on a terminal",
    )
