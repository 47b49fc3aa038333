"""Errors a user sees: short, naming the file, the key path and what is allowed, never a traceback."""

from __future__ import annotations

import contextlib
import difflib
import os
import re
import signal
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """A ' Did you mean 'x'?' suffix for a near-miss name, or '' when nothing is close."""
    close = difflib.get_close_matches(str(name), [str(c) for c in choices], n=1, cutoff=0.6)
    return f" Did you mean '{close[0]}'?" if close else ""


_UNPRINTABLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
"""Control characters (all but tab and newline) and the bidirectional controls: in a terminal, ESC starts a sequence
that can clear the screen, set the window title or write the clipboard; U+202E draws the rest of a line backwards."""


def printable(text: str) -> str:
    """``text`` with each control character shown as its escape (``\\x1b``, ``\\u202e``), so that a name read from
    a run's files prints as written and cannot drive the terminal; tab and newline stay."""
    return _UNPRINTABLE.sub(lambda m: repr(m.group())[1:-1], text)


_LINE_BREAKS = str.maketrans({"\n": "\\n", "\t": "\\t", "\u2028": "\\u2028", "\u2029": "\\u2029"})
"""The line breaks and the tab :func:`printable` keeps or lets through (it escapes ``\\r`` and the other controls):
a tab in a host name moved every column after it."""


def one_line_text(text: str) -> str:
    """``text`` as one printed line: control characters as their escapes (:func:`printable`), line breaks too
    (``\\n``). For what a run's files hold (a host or CPU name, a suite's name, a commit): printed as written, it
    started a line of its own in a listing of one line per run, or drove the terminal."""
    return printable(text).translate(_LINE_BREAKS)


def percent(share: float, *thresholds: float) -> str:
    """``share`` as a whole percent, or to as many decimals as keep it on its side of each of ``thresholds``, 0 and
    100%: a share of 0.898 read "90%" beside the words "near tie" (under 90%), as if it met the 90% it fell short
    of; 0.996 read "best in 100%"; 0.796 "stays top in 80%" beside "FRAGILE ... (below 80%)"."""
    lines = (1e-12, *thresholds, 1.0)
    for digits in range(4):
        shown = round(share, digits + 2)
        if all((shown >= line) == (share >= line) for line in lines):
            break
    return f"{share:.{digits}%}"


def counted(number: int, noun: str, plural: str | None = None) -> str:
    """``number`` and ``noun`` agreeing: ``1 case``, ``0 cases``, ``2 cases`` (``plural`` when not noun + s)."""
    return f"{number} {noun if number == 1 else plural or noun + 's'}"


def first_few(items: Sequence[str], limit: int = 5, separator: str = ", ", rest: str = "more") -> str:
    """The first ``limit`` of ``items`` joined by ``separator``, then how many more (``a, b, c and 7 more``;
    ``rest`` names them otherwise: ``and 3 older``), so that a message about thousands of cases stays one short
    line and still says that the list goes on."""
    shown = separator.join(items[:limit])
    left = len(items) - limit
    return f"{shown} and {left} {rest}" if left > 0 else shown


def short_name(text: str, limit: int = 80) -> str:
    """A file name or path cut in the middle to at most ``limit`` characters (its start and its end, which tell
    most), so that an error about a 5000-character name stays one short line."""
    if len(text) <= limit:
        return text
    tail = limit // 3
    return f"{text[: limit - tail - 1]}…{text[-tail:]}"


def unexpanded_home(path: str) -> str | None:
    """Why ``path`` cannot be meant as written, where it starts with ``~`` (``~/results``, ``~``, ``~user/x``), which
    no program but a shell reads as a home folder, and a shell only at the start of an unquoted word (not in
    ``--out=~/x``, a quoted value or a variable set in a file): used as written it is a folder named ``~`` in the
    working folder, which a later ``rm -rf ~`` would take for the home folder. ``None`` for any other path."""
    if not path.startswith("~"):
        return None
    meant = os.path.expanduser(path) if os.environ.get("HOME", None) != "" else path  # '' would read as '/'
    write = f"{short_name(meant)!r}" if meant != path else "an absolute path"
    return f"'~' is not expanded here (only a shell does, at the start of an unquoted word): write {write}"


def os_reason(err: OSError) -> str:
    """An OSError's reason in lower case (``no such file or directory``), without the path it names."""
    return (err.strerror or type(err).__name__).lower()


class BenchError(Exception):
    """Base class of every error the harness reports to a user as a plain message."""


class BenchWarning(UserWarning):
    """Base class of the harness's warnings: reports about a case or a run (a busy machine, a pass that failed, a
    cache it could not use), never a case's failure, also where pytest's ``-W error`` makes warnings errors (see
    :func:`bench.plugin.reported_not_raised`)."""


class SuiteError(BenchError):
    """A suite file is invalid: names the file, the key path and the allowed values."""

    def __init__(self, file: str | None, key: str | None, message: str):
        self.file = file
        # line breaks and controls a user's value may carry (a name, a key) escaped: an error stays one line
        self.key = key = key if key is None else one_line_text(key)
        self.message = message = one_line_text(message)
        where = ": ".join(part for part in (file, key) if part)
        super().__init__(f"{where}: {message}" if where else message)


class UnknownName(BenchError, KeyError):
    """A registry lookup failed; the message lists what is available."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class NotApplicable(BenchError):
    """A case cannot run on this combination (hardware absent, engine cannot take this compression, ...).

    The case is recorded as skipped with this reason, never as a crash.
    """


def one_line(err: BaseException, limit: int = 300) -> str:
    """``Type: message`` on one line, cut to ``limit`` characters (a C++ stack must not fill a record); an error
    :func:`raised_in` a user's code starts with where (``factory 'my_models:build': evaluate raised Type: ...``)."""
    if isinstance(err, SystemExit):  # its message is only the exit code: say who asked to end the process
        message = f"the model called sys.exit({'' if err.code is None else repr(err.code)})"
    else:
        message = str(err).split("Exception raised from ", 1)[0]  # torch's C++ errors may append their stack
    where = getattr(err, RAISED_IN, None)
    text = " ".join(f"{type(err).__name__}: {message}".split()).strip().rstrip(":")
    text = f"{where} raised {text}" if isinstance(where, str) else text
    return text if len(text) <= limit else text[: limit - 1] + "…"


RAISED_IN = "bench_raised_in"
"""The attribute :func:`raised_in` gives an exception: which of a user's functions it came out of."""


def raised_in(err: BaseException, where: str) -> None:
    """Mark ``err`` as raised by the user's code ``where`` (``factory 'my_models:build': evaluate``), so that
    :func:`one_line` names it: a record then points at the user's function, not at the harness that called it. The
    innermost mark stays (an error of ``make_inputs`` inside a compression keeps ``make_inputs``); the exception
    itself, its type and its traceback are left as they are."""
    if getattr(err, RAISED_IN, None) is None:
        with contextlib.suppress(AttributeError, TypeError):  # an exception type that takes no attributes
            setattr(err, RAISED_IN, where)


@contextlib.contextmanager
def sigterm_as_interrupt(on_signal: Callable[[str], object] | None = None) -> Iterator[None]:
    """In the block, a SIGTERM (a CI timeout, ``kill``) stops this process as Ctrl-C does: ``on_signal("SIGTERM")``,
    then ``KeyboardInterrupt("SIGTERM")``. After it, the handler before is put back, or the default one where Python
    had set none (``signal.signal`` gave ``None``: an embedding program's handler, which Python cannot set back).
    Only the main thread takes signals: elsewhere the block just runs. ``bench run`` holds it for its session,
    ``bench calibrate`` and ``bench gate --rerun`` while their ``bench run`` measures."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum, frame):
        name = signal.Signals(signum).name
        if on_signal is not None:
            on_signal(name)
        raise KeyboardInterrupt(name)

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)


def stops_the_session(err: BaseException) -> bool:
    """Whether ``err`` is a ``pytest.exit()``: a request to stop the whole pytest session, whoever made it (a
    conftest, a model, an engine). It is no failure of the case or pass it interrupted: an ``except Exception`` that
    records a failure raises it on instead, and the run ends as for any ``pytest.exit()``."""
    pytest = sys.modules.get("pytest")  # not imported: nothing can have called pytest.exit()
    return pytest is not None and isinstance(err, pytest.exit.Exception)


def outcome_of(err: BaseException) -> str | None:
    """What a case records when ``err`` comes out of it: ``skipped`` for :class:`NotApplicable` and a
    ``pytest.skip()``, ``failed`` for a ``pytest.fail()`` / ``pytest.xfail()``, a ``sys.exit()`` (a model must not end
    the benchmark; pytest too reports the case failed and goes on) and any other ``Exception``; ``None`` for what
    stops the session instead (Ctrl-C, SIGTERM, ``pytest.exit()``), which leaves no record and is raised on. pytest's
    outcomes and ``SystemExit`` are not ``Exception``s, so an ``except Exception`` does not see them."""
    if isinstance(err, NotApplicable):
        return "skipped"
    if stops_the_session(err):
        return None
    pytest = sys.modules.get("pytest")
    if pytest is not None and isinstance(err, pytest.skip.Exception):
        return "skipped"
    if pytest is not None and isinstance(err, pytest.fail.Exception):
        return "failed"
    return "failed" if isinstance(err, (Exception, SystemExit)) else None
