"""The ``bench`` command. Each subcommand is a module of :mod:`bench.commands` with ``register(subparsers)``."""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import pkgutil
import sys
import warnings
from collections.abc import Callable, Sequence

from bench.commands._args import BadEnvironment
from bench.errors import BenchError, did_you_mean, one_line_text, os_reason, printable

PYTEST_COMMANDS = ("run", "overhead")
"""Commands whose output is pytest's own (its colours included); every other command's output goes through
:func:`bench.errors.printable`, so that a case id or a model name read from a run's files cannot drive the
terminal."""


class _Output:
    """A standard stream as a command writes to it: with ``escape``, every control character is shown as its escape
    (tab and newline kept); and a reader that left (``bench results | head -1``, a pager quit early) costs what was
    still to be printed, never the command (:func:`_reader_left`). So does a stream that refuses a write (a full
    disk, ``>/dev/full``): ``refused`` is called once with the error, to say so where that can still be said."""

    def __init__(self, stream, escape: bool = False, refused: Callable[[OSError], None] | None = None):
        self._stream = stream
        self._escape = escape
        self._refused = refused
        self.reader_left = False

    def write(self, text: str) -> int:
        shown = printable(text) if self._escape else text
        try:
            try:
                self._stream.write(shown)
            except UnicodeEncodeError:  # nothing was written: the whole text is encoded first
                self._stream.write(_encodable(shown, self._stream.encoding))
        except OSError as err:
            self._lost(err)
        return len(text)

    def flush(self) -> None:
        try:
            self._stream.flush()
        except OSError as err:
            self._lost(err)

    def _lost(self, err: OSError) -> None:
        """The rest of the output goes nowhere: the reader left (a broken pipe), or the stream refused a write (no
        space left on device, an I/O error). Before, a refused write ended the command with "error: [Errno 28] No
        space left on device", exit 2: a gate's status lost, though its verdicts were written."""
        already = self.reader_left
        self.reader_left = True
        _reader_left(self._stream)
        if not already and self._refused is not None and not isinstance(err, BrokenPipeError):
            self._refused(err)

    def __getattr__(self, name: str):
        return getattr(self._stream, name)


def _encodable(text: str, encoding: str) -> str:
    """``text`` with each character ``encoding`` lacks shown as its escape (``\\xb7``), as Python shows it on stderr:
    on a stdout that is not Unicode (``LANG=C`` without UTF-8, ``PYTHONIOENCODING=ascii``, a Latin-1 terminal), a
    gate's or a report's first '·' or '±' ended the command with "error: 'ascii' codec can't encode character",
    exit 2, after its files were written: a gate's verdict was lost."""
    return text.encode(encoding, "backslashreplace").decode(encoding)


def _reader_left(stream) -> None:
    """``stream``'s reader has gone: what follows goes to the null device, so that the command ends as it would have
    (a gate's verdicts written and its exit status its own, every case of a run measured). Before, the first write
    after it ended the command with "error: [Errno 32] Broken pipe", exit 2: a gate's status lost, a run stopped as
    pytest's internal error before its last case."""
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, stream.fileno())
    finally:
        os.close(null)
    with contextlib.suppress(OSError, ValueError):
        stream.flush()  # what was buffered when the pipe broke


def _open_closed_streams() -> None:
    """Open each standard stream the caller closed (``bench gate >&-``, ``2>&-``, ``<&-``) on the null device.
    Python leaves such a stream ``None``: every print was a traceback (``bench gate`` then exited 1, its status for a
    regression), pytest stopped on an INTERNALERROR before the first case, and the first file bench opened would
    have taken the stream's number, so that what was printed went into it."""
    for number, name in enumerate(("stdin", "stdout", "stderr")):
        try:
            os.fstat(number)
        except OSError:
            opened = os.open(os.devnull, os.O_RDWR)  # the lowest free number: this one, as those below are open
            if opened != number:
                os.dup2(opened, number)
                os.close(opened)
        if getattr(sys, name) is None:
            stream = open(number, "r" if number == 0 else "w", closefd=False)  # noqa: SIM115 (for the whole process)
            setattr(sys, name, stream)
            setattr(sys, f"__{name}__", stream)


def _refused_line(command: str) -> Callable[[OSError], None]:
    """What to say when standard output refuses a write: one warning on standard error (which goes nowhere in turn
    if it refuses too); the command goes on, and its exit status stays its own."""

    def say(err: OSError) -> None:
        reason = os_reason(err)
        print(
            _line(f"bench {command}: warning: cannot write standard output ({reason}); the rest of it is lost"),
            file=sys.stderr,
        )

    return say


def _line(text: str) -> str:
    """An error or a warning as the one line it must be: control characters escaped (:func:`printable`), a newline
    too. A name holding one (a suite asked for as ``$'x\\ny'``, a results folder ``$'a\\nb'``) split the line in two,
    the second not starting with ``bench``."""
    return one_line_text(text)


def passes_on(parser: argparse.ArgumentParser) -> set[str]:
    """The commands that hand the arguments they do not know on (``accepts_extra``: ``bench run``, to pytest)."""
    return {
        name
        for action in parser._actions  # argparse keeps its subcommands only there (no public accessor)
        if isinstance(action, argparse._SubParsersAction)
        for name, sub in action.choices.items()
        if sub.get_default("accepts_extra")
    }


def build_parser() -> argparse.ArgumentParser:
    from bench import __version__, commands

    parser = argparse.ArgumentParser(
        prog="bench",
        description="Benchmark compressed AI models: latency, size, accuracy, energy and cost in one table.",
    )
    parser.add_argument("--version", action="version", version=f"bench {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda i: i.name):
        if not info.name.startswith("_"):
            importlib.import_module(f"bench.commands.{info.name}").register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    _open_closed_streams()
    code = _main(argv)
    sut = sys.modules.get("bench.measure.sut")
    try:
        unsettled = sut is not None and sut.unsettled()
    except KeyboardInterrupt:  # a third Ctrl-C while waiting: raised on, it would leave through Python's shutdown
        unsettled = True
    if unsettled:  # a second Ctrl-C left LoadGen draining (a model call that never returned, or arrivals), or it hung
        print(f"bench: {sut.left_running()}", file=sys.stderr)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)  # Python's shutdown would crash in LoadGen's thread
    return code


def _parser_of(parser: argparse.ArgumentParser, args: argparse.Namespace) -> argparse.ArgumentParser:
    """The parser of the command ``args`` were parsed for (``bench baseline set``'s for its action), whose usage
    lists the options that command takes and whose errors name it."""
    found = parser
    while found._subparsers is not None:  # argparse keeps its subcommands only there (no public accessor)
        choices = found._subparsers._group_actions[0]
        name = getattr(args, choices.dest, None)
        if name not in choices.choices:
            break
        found = choices.choices[name]
    return found


def _main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    given = list(sys.argv[1:] if argv is None else argv)
    # for a command that passes arguments on (bench run, to pytest), what follows `--` is the pass-through's, also
    # where no suite came before it: argparse would hand it to the suites positional (`bench run -k x -- -W ignore`
    # read '-W' as a suite); for the others `--` means what it means to argparse (`bench history -- NAME`)
    command = next((arg for arg in given if not arg.startswith("-")), None)
    cut = given.index("--") if command in passes_on(parser) and "--" in given else len(given)
    try:
        args, extra = parser.parse_known_args(given[:cut])
        extra += given[cut + 1 :]
    except BadEnvironment as err:  # a default from $BENCH_RESULTS_DIR or $BENCH_REPORTS_DIR: name it, not the option
        command = next((a for a in given if not a.startswith("-")), "")
        print(_line(f"bench {command}: error: {err}".replace("bench : ", "bench: ")), file=sys.stderr)
        return 2
    if extra and not getattr(args, "accepts_extra", False):
        refused = _parser_of(parser, args)  # its usage lists the options the command takes, its error names it
        options = [o for action in refused._actions for o in action.option_strings if o.startswith("--")]
        near = (did_you_mean(a.split("=")[0], options) for a in extra if a.startswith("--"))
        refused.error(_line(f"unrecognized arguments: {' '.join(extra)}") + next((f".{n}" for n in near if n), ""))
    stdout, stderr = sys.stdout, sys.stderr
    sys.stdout = _Output(stdout, escape=args.command not in PYTEST_COMMANDS, refused=_refused_line(args.command))
    sys.stderr = _Output(stderr)
    try:
        with warnings.catch_warnings():  # a warning is one line too (a damaged neighbour run, an unstable case)
            warnings.showwarning = lambda message, *_, **__: print(
                _line(f"bench {args.command}: warning: {message}"), file=sys.stderr
            )
            return int(args.func(args, extra) or 0)
    except (BenchError, OSError, UnicodeError) as err:  # a bad input or path: one line, never a traceback
        print(_line(f"bench {args.command}: error: {err}"), file=sys.stderr)
        return 2
    except KeyboardInterrupt as stop:  # Ctrl-C, or SIGTERM during a run: the plugin's handler raises it, naming it
        by = " (SIGTERM)" if stop.args == ("SIGTERM",) else ""  # bench run says what its run kept (commands.run)
        print(f"bench {args.command}: interrupted{by}", file=sys.stderr)
        return 143 if by else 130
    finally:
        # flushed here, not at exit, where a refused write would cost the exit status (Python's 120) and a broken
        # pipe that pytest put back as it ended would be printed
        for output in (sys.stdout, sys.stderr):
            with contextlib.suppress(ValueError):  # a stream closed by the command
                output.flush()
        sys.stdout, sys.stderr = stdout, stderr


if __name__ == "__main__":
    sys.exit(main())
