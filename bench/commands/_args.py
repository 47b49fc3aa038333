"""Argument types shared by the subcommands: a bad value is argparse's one-line usage error (exit 2)."""

from __future__ import annotations

import argparse
import contextlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path

from bench.checks import short
from bench.errors import BenchError, os_reason, short_name, unexpanded_home


def probability(text: str) -> float:
    """argparse type: a number strictly between 0 and 1 (a test level)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number between 0 and 1, got {text!r}") from None
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1 (e.g. 0.01), got {text}")
    return value


def at_least(minimum: int, why: str = ""):
    """An argparse type: an integer >= ``minimum``; ``why`` (e.g. why two are needed) follows the bound in the
    message for a value below it."""
    because = f" ({why})" if why else ""

    def integer(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be an integer >= {minimum}, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be an integer >= {minimum}{because}, got {value}")
        return value

    integer.__name__ = "integer"
    return integer


positive_int = at_least(1)
"""argparse type: an integer >= 1."""


def bounded_int(minimum: int, maximum: int):
    """An argparse type: an integer from ``minimum`` to ``maximum``."""

    def integer(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be an integer from {minimum} to {maximum}, got {text!r}") from None
        if not minimum <= value <= maximum:
            raise argparse.ArgumentTypeError(f"must be an integer from {minimum} to {maximum}, got {value}")
        return value

    integer.__name__ = "integer"
    return integer


non_negative_int = bounded_int(0, 100)
"""argparse type: an integer from 0 to 100 (0 switches the option off)."""


def number_type(minimum: float, maximum: float, strict: bool = True):
    """An argparse type: a finite number above ``minimum`` (or equal to it, with ``strict=False``) up to
    ``maximum``."""
    bounds = f"{'>' if strict else '>='} {minimum:g} and <= {maximum:g}"

    def number(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a number {bounds}, got {text!r}") from None
        if not (minimum < value if strict else minimum <= value) or not value <= maximum:  # NaN fails both
            raise argparse.ArgumentTypeError(f"must be a number {bounds}, got {text}")
        return value

    number.__name__ = "number"
    return number


def _creatable(text: str) -> str:
    """``text``, unless it starts with an unexpanded ``~`` (:func:`bench.errors.unexpanded_home`) or its nearest
    existing ancestor is a file (nothing can be created below it)."""
    problem = unexpanded_home(text)
    if problem:
        raise argparse.ArgumentTypeError(f"{short_name(text)!r}: {problem}")
    for parent in Path(text).parents:
        if parent.exists():
            if not parent.is_dir():
                raise argparse.ArgumentTypeError(
                    f"{short_name(text)!r}: {short_name(str(parent))!r} is a file, not a folder"
                )
            break
    return text


def _unusable(text: str, err: OSError) -> argparse.ArgumentTypeError:
    """The usage error of a path that cannot be looked up (a name too long, no permission), its name shortened."""
    return argparse.ArgumentTypeError(f"{short_name(text)!r}: {os_reason(err)}")


class FromEnvironment(str):
    """A default path taken from an environment variable. argparse checks a default with the option's type as it
    checks a value given, so a bad one would be reported as the option (``argument --summary: ...``), which the user
    never passed: :func:`folder` and :func:`output_file` name the variable and its value instead."""

    variable = ""
    value = ""


class NotGiven(str):
    """A folder option's default where neither the option (``option``) nor its environment variable was set: an
    error about it names it as the default, not as an option the user never gave (see
    :func:`named_folder`)."""

    option = ""


class BadEnvironment(BenchError):
    """An environment variable that sets a default names an unusable path (raised through argparse, which turns only
    its own errors into usage lines, so that the line names the variable: see ``bench.cli.main``)."""


def environment_default(variable: str, path: str) -> str:
    """``path`` (a default derived from ``$variable`` when it is set), marked so that a bad one names the variable."""
    value = os.environ.get(variable)
    if not value:
        return path
    marked = FromEnvironment(path)
    marked.variable, marked.value = variable, value
    return marked


def folder_default(variable: str, path: str, option: str) -> str:
    """The default of the path option ``option`` (a folder, or a file in one): ``$variable`` (marked as taken from
    it, see :func:`environment_default`) or ``path`` (marked :class:`NotGiven`, so that a
    default refused as it is checked names itself as ``option``'s default, not as an option the user never gave)."""
    value = environment_default(variable, path)
    if isinstance(value, FromEnvironment):
        return value
    marked = NotGiven(path)
    marked.option = option
    return marked


def _inside(path: str, folder: str) -> bool:
    """Whether ``path`` is ``folder`` or below it."""
    path, folder = os.path.abspath(path), os.path.abspath(folder)
    return os.path.commonpath([path, folder]) == folder


@contextlib.contextmanager
def writing_below(out: str, what: str) -> Iterator[None]:
    """A block that writes ``what`` (``the report``) below the ``--out`` folder ``out``: an ``OSError`` on a path
    there (a read-only or virtual file system, a full disk) is one line naming the folder as the user set it
    (:func:`named_folder`: ``$BENCH_REPORTS_DIR``, ``--out`` or its default) and the path; any other goes on."""
    try:
        yield
    except OSError as err:
        if not isinstance(err.filename, str) or not _inside(err.filename, out):
            raise
        raise BenchError(
            f"{named_folder(out, '--out')}: cannot write {what}: {os_reason(err)} ({short(err.filename)})"
        ) from None


def named_folder(value: str, option: str) -> str:
    """How an error names the folder ``value`` of ``option``, as the user set it: the environment variable it came
    from (``$BENCH_REPORTS_DIR '/proc'``), the option given (``--out '/proc'``), or neither, its default
    (``'reports' (the default of --out)``)."""
    if isinstance(value, FromEnvironment):
        return f"${value.variable} {short_name(value.value)!r}"
    if isinstance(value, NotGiven):
        return f"{short_name(value)!r} (the default of {option})"
    return f"{option} {short_name(value)!r}"


def _named_by_variable(check):
    """``check`` (an argparse type), whose refusal of a default from the environment names the variable."""

    def checked(text: str) -> str:
        try:
            return check(text)
        except argparse.ArgumentTypeError as err:
            if isinstance(text, FromEnvironment) or (isinstance(text, NotGiven) and text.option):
                raise BadEnvironment(f"{named_folder(text, getattr(text, 'option', ''))}: {err}") from None
            raise

    checked.__name__ = check.__name__
    checked.__doc__ = check.__doc__
    return checked


@_named_by_variable
def folder(text: str) -> str:
    """argparse type: a folder, existing or not yet created; an existing file (or a file on the way) is refused."""
    path = Path(text)
    if not text:
        raise argparse.ArgumentTypeError("must be a folder, got an empty path")
    try:
        if path.exists() and not path.is_dir():
            raise argparse.ArgumentTypeError(f"{short_name(text)!r} is a file, not a folder")
        return _creatable(text)
    except OSError as err:
        raise _unusable(text, err) from None


@_named_by_variable
def output_file(text: str) -> str:
    """argparse type: a file to write, existing or not; a folder (or a file on the way) is refused, and so is an
    empty path (an unset shell variable), which is no folder either."""
    if not text.strip():
        raise argparse.ArgumentTypeError("must be a file, got an empty path")
    try:
        if Path(text).is_dir() or text.endswith(("/", "\\")):
            raise argparse.ArgumentTypeError(f"{short_name(text)!r} is a folder; give a file name")
        return _creatable(text)
    except OSError as err:
        raise _unusable(text, err) from None


def add_out_option(parser: argparse.ArgumentParser, what: str, below: str = "") -> None:
    """The ``--out DIR`` option of a command that writes into the reports folder (``bench report``, ``history``,
    ``calibrate``): a :func:`folder`, by default ``$BENCH_REPORTS_DIR`` or ``<rootdir>/reports``, then ``below``
    where given; ``what`` says what the folder holds."""
    from bench.results import default_reports_dir

    default, then = default_reports_dir(), ""
    if below:
        default, then = str(Path(default) / below), f", then {below}/"
    parser.add_argument(
        "--out",
        metavar="DIR",
        type=folder,
        default=folder_default("BENCH_REPORTS_DIR", default, "--out"),
        help=f"{what} (default: $BENCH_REPORTS_DIR or <rootdir>/reports/{then})",
    )


def non_empty_path(text: str) -> str:
    """argparse type: a path that is not empty (an empty one would silently mean the current folder)."""
    if not text:
        raise argparse.ArgumentTypeError("must be a suite file or folder, got an empty path")
    return text


def input_file(text: str) -> str:
    """argparse type: a file to read (checked where it is read: a missing or unreadable file is named there); an
    empty path is refused, as it would silently mean none (an unset shell variable)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("must be a file, got an empty path")
    problem = unexpanded_home(text)
    if problem:
        raise argparse.ArgumentTypeError(f"{short_name(text)!r}: {problem}")
    return text


def suite_path(text: str) -> str:
    """argparse type: a suite file or a folder of suites that exists (checked before pytest or torch starts); a
    pytest node id (``suites/quick.yaml::quick::...``) is checked by its path."""
    non_empty_path(text)
    path = text.split("::", 1)[0]
    _not_read_as_a_case(text, path)
    try:
        mode = os.stat(path).st_mode
    except OSError as err:
        raise _unusable(text, err) from None
    if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        raise argparse.ArgumentTypeError(f"{text!r} is not a regular file or a folder; give a suite file or folder")
    return text


def _not_read_as_a_case(text: str, path: str) -> None:
    """Refuse a suite ``path`` (of ``text``) pytest would read as a case: a ``[`` in it starts a case's parameters,
    and a file whose name holds ``::`` is a node id of another file (was: pytest's "path cannot contain []
    parametrization", exit 4, or "no such file or directory" for a file that is there)."""
    if "[" in path:
        named, why = path, "'[' as the start of a case's parameters"
    elif path != text and os.path.isfile(text):
        named, why = text, "'::' as the start of a case id"
    else:
        return
    raise argparse.ArgumentTypeError(
        f"{short_name(named)!r}: pytest reads {why} and cannot run a suite file or folder so named: rename it"
    )


def default_here(paths: list[str], default: list[str], example: str) -> None:
    """When no path was named (``paths`` is the ``default`` object argparse left) and the default is not in the
    current folder, one line saying so: argparse checks only the paths given, and pytest would say "no tests ran".
    """
    if paths is default and not os.path.exists(default[0]):
        raise BenchError(
            f"no suite named, and the default {default[0]} is not in {os.getcwd()}: name a suite file or folder "
            f"({example}), or run from the project's folder"
        )


def run_id(text: str) -> str:
    """argparse type: a run id a new run may take (see :func:`bench.results.run_id_problem`)."""
    from bench.results import run_id_problem

    problem = run_id_problem(text)
    if problem:
        raise argparse.ArgumentTypeError(problem)
    return text


WIDEST_TERMINAL = 10_000
"""The widest ``$COLUMNS`` handed to pytest: its separator lines are that many characters, so 10**10 asked it for
strings of gigabytes, and a width beyond a machine integer stopped it on an INTERNALERROR ("cannot fit 'int' into
an index-sized integer") before the first case."""


def check_terminal_width() -> None:
    """One line for a ``$COLUMNS`` that is a whole number pytest cannot draw lines of (above
    :data:`WIDEST_TERMINAL`); other values are pytest's to ignore (text, 0, negative: it asks the terminal)."""
    text = os.environ.get("COLUMNS", "").strip()
    try:
        width = int(text)
    except ValueError:
        return
    if width > WIDEST_TERMINAL:
        raise BenchError(
            f"$COLUMNS {short_name(text)!r}: wider than any terminal (at most {WIDEST_TERMINAL:,} columns); unset it "
            "to use the terminal's width"
        )
