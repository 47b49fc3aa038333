"""The gate's outputs: a Markdown summary (for a CI step summary or a PR comment) and a JSON file."""

from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import re
import stat
import threading
from collections.abc import Iterable
from pathlib import Path

from bench.durable import fsync_folder, write_synced
from bench.errors import first_few, os_reason, printable
from bench.gate.compare import GateResult, Verdict
from bench.gate.rules import VERDICTS, GateError

STEP_SUMMARY = "GITHUB_STEP_SUMMARY"
"""The environment variable naming the file a CI step's Markdown summary is appended to (set by GitHub Actions)."""

# ---------------------------------------------------------------------------------------------- outputs

_ICON = {"regressed": "❌", "improved": "✅", "inconclusive": "❔", "unchanged": "·", "not comparable": "⚠️"}


def _fmt(value: float | None) -> str:
    if value is None:
        return ""
    if abs(value) >= 1e5:
        return f"{value:,.0f}"
    return f"{value:.4g}"


def _fmt_change(verdict: Verdict) -> str:
    if verdict.change is None:
        return ""
    if not math.isfinite(verdict.change):
        return "from 0"
    text = f"{verdict.change:+.2%}" if verdict.relative else f"{verdict.change:+.4g}"
    if verdict.precision is not None and math.isfinite(verdict.precision):  # the change's 95% interval
        text += f" ± {verdict.precision:.1%}" if verdict.relative else f" ± {verdict.precision:.4g}"
    # a side's figure is only a lower bound: the change is at least / at most this, or not known at all
    return {"at least": f"≥ {text}", "at most": f"≤ {text}", "unknown": "? (both bounds)"}.get(verdict.bound, text)


_LINE_BREAKS = str.maketrans({"\r": "\\r", "\n": "\\n"})


def _code(text: object, cell: bool = False) -> str:
    """``text`` read from a run's files (a case id, a commit) as one Markdown code span that shows it as written:
    line breaks and control characters as their escapes, fenced by more backticks than any run of them in it, and
    in a table ``cell`` its ``|`` escaped (GitHub ends a cell at a bare one, even inside a span). Before, a case id
    with a backtick or a line break ended its span: what followed rendered in the CI summary as HTML, a link or a
    heading (``## bench gate: passed`` under a failed gate), and a ``|`` broke the table."""
    shown = printable(str(text)).translate(_LINE_BREAKS)
    shown = shown.replace("|", "\\|") if cell else shown
    fence = "`" * (max(map(len, re.findall("`+", shown)), default=0) + 1)
    pad = " " if shown.startswith("`") or shown.endswith("`") else ""
    return f"{fence}{pad}{shown}{pad}{fence}"


def _text(text: str, cell: bool = False) -> str:
    """Free text that quotes what a run's files hold (a failed case's error, a CPU model) for Markdown: line breaks
    and control characters as escapes, ``&`` and ``<`` as entities (GitHub drops ``<class 'int'>`` as an unknown
    tag, and renders an ``<img>``), and in a table ``cell`` its ``|`` escaped."""
    shown = printable(text).translate(_LINE_BREAKS).replace("&", "&amp;").replace("<", "&lt;")
    return shown.replace("|", "\\|") if cell else shown


def _table(verdicts: Iterable[Verdict]) -> list[str]:
    lines = [
        "| case | metric | baseline | current | change | rule | p (adj.) | verdict |",
        "| --- | --- | ---: | ---: | ---: | :---: | ---: | --- |",
    ]
    for v in verdicts:
        p = "" if v.p_adjusted is None else f"{v.p_adjusted:.2g}"
        note = f" ({_text(v.reason, cell=True)})" if v.reason else ""
        lines.append(
            f"| {_code(v.case, cell=True)} | {v.metric} | {_fmt(v.baseline)} | {_fmt(v.current)} | {_fmt_change(v)} | "
            f"{v.rule or ''} | {p} | {_ICON[v.verdict]} {v.verdict}{note} |"
        )
    return lines


def _nothing_compared(result) -> str:
    """Why a gate compared nothing: the environments or measure settings differ (exit 2), or no case is ok in both
    runs (exit 3)."""
    if (result.environment or result.settings) and not result.forced:
        named = (("environments", result.environment), ("measure settings", result.settings))
        differ = " and ".join(what for what, found in named if found)
        return f"nothing was compared: the runs' {differ} differ (use --force to compare anyway)"
    return "nothing was compared: no case is ok in both runs (another suite, no overlap, or an empty run)"


def _first_five(items: list[str], separator: str = ", ") -> str:
    """The first five items in backticks, then how many more."""
    return first_few([_code(item) for item in items], 5, separator)


def _status(result: GateResult) -> str:
    """The heading's verdict. A pass names what it did not decide: comparisons beyond the rule that their interval
    could not settle, and baseline cases the current run did not measure. Before, a gate whose every latency was
    +28% *inconclusive*, or that measured one case of ten, was headed "passed" like one that checked them all."""
    if result.exit_code != 0:
        return {
            1: "FAILED: regression",
            2: "refused: runs not comparable",
            3: "FAILED: asked to guard what it could not compare",
        }[result.exit_code]
    undecided = [
        f"{result.count('inconclusive')} inconclusive" if result.count("inconclusive") else "",
        f"{len(result.not_run)} baseline case(s) not measured now" if result.not_run else "",
    ]
    caveats = ", ".join(filter(None, undecided))
    return f"passed (not decided: {caveats})" if caveats else "passed"


def render_markdown(result: GateResult, max_unchanged: int = 200) -> str:
    """The summary for ``$GITHUB_STEP_SUMMARY``: counts, warnings, what moved, then what did not."""
    counts = " · ".join(f"{result.count(v)} {v}" for v in VERDICTS)
    lines = [
        f"## bench gate: {_status(result)}",
        "",
        f"{counts}",
        "",
        f"- baseline: {_code(result.baseline)} (commit {_code(result.baseline_commit)})",
        f"- current: {_code(result.current)} (commit {_code(result.current_commit)})",
        f"- timed metrics: two-sided Mann-Whitney U on raw samples, alpha={result.alpha:g}, "
        f"correction={result.correction}, and an effect beyond the rule that the change's 95% interval "
        f"(± precision: the samples' own and the run-to-run variation) does not reach back across",
    ]
    if result.environment:
        kind = "compared anyway (--force)" if result.forced else "not compared"
        lines += ["", f"> **Environment differs** on {len(result.environment)} case(s), {kind}:"]
        shown = dict(list(result.environment.items())[:10])
        lines += [f"> - {_code(case)}: {_text('; '.join(diffs))}" for case, diffs in shown.items()]
    for note in result.notes:
        lines += ["", f"> **{_text(note)}**"]
    if result.not_run:
        lines += [
            "",
            f"{len(result.not_run)} baseline case(s) not measured in the current run (deselected, skipped or "
            f"removed): {_first_five(result.not_run)}",
        ]
    if result.uncompared or result.compared == 0:
        what = (
            f"{len(result.uncompared)} case(s) ok in the baseline and selected now were not compared (never "
            f"measured: the run was killed or interrupted; no comparable figure; a case measured twice in one run; "
            f"a baseline promoted from this very run; or a baseline whose records.jsonl has damaged lines): "
            f"{_first_five(result.uncompared)}"
            if result.uncompared
            else _nothing_compared(result)
        )
        lines += ["", f"> **{what}**"]
    if result.damaged:
        lines += [
            "",
            f"> **The current run's records.jsonl has {len(result.damaged)} damaged line(s), skipped: the case on "
            f"each was not compared, so the gate cannot vouch for it: {_first_five(result.damaged, '; ')}**",
        ]
    if result.unguarded:
        lines += [
            "",
            f"> **{len(result.unguarded)} figure(s) the baseline measured could not be compared, so the gate "
            f"cannot vouch for them: {_first_five(result.unguarded, '; ')}**",
        ]
    moved = [v for v in result.verdicts if v.verdict in ("regressed", "improved", "not comparable")]
    moved += [v for v in result.verdicts if v.verdict == "inconclusive"]
    order = {name: i for i, name in enumerate(VERDICTS)}
    moved.sort(key=lambda v: (order[v.verdict], v.case, v.metric))
    if moved:
        lines += ["", "### Regressed, improved, inconclusive and not comparable", "", *_table(moved)]
    unchanged = [v for v in result.verdicts if v.verdict == "unchanged"]
    if unchanged:
        lines += ["", f"<details><summary>{len(unchanged)} unchanged</summary>", "", *_table(unchanged[:max_unchanged])]
        if len(unchanged) > max_unchanged:
            lines.append(f"| … {len(unchanged) - max_unchanged} more in the JSON verdict file | | | | | | | |")
        lines += ["", "</details>"]
    return "\n".join(lines) + "\n"


OUTPUTS_WAIT_S = 60.0
"""How long a gate waits for another gate writing into the same folder: writing a summary and verdicts takes well
under a second, so a lock held longer is a gate that hangs (stopped with Ctrl-Z)."""


def write_outputs(result: GateResult, summary_path: str | Path, json_path: str | Path, step_summary: str | None):
    """Write the Markdown summary and the JSON verdicts; append the summary to ``$GITHUB_STEP_SUMMARY`` if set
    (:func:`append_step_summary`, whose :class:`GateError` comes after both files are written). Both files are
    written beside their place first, then put there together: a write the file system refuses (a full disk, a
    read-only folder) is a :class:`GateError` naming the option and the file, and leaves both files as they were,
    never one cut short nor a new summary beside the verdicts of an earlier comparison. The two renames are not one
    step, so the earlier verdicts file is removed before the summary takes its place: a gate killed between them
    leaves the verdicts file missing, never one gate's summary beside another gate's verdicts (``bench gate``
    again writes both). Two gates writing the same files at once take turns (:func:`_folders_locked`): the pair is
    always one gate's."""
    markdown = render_markdown(result)
    outputs = (
        ("--summary", summary_path, markdown),
        ("--json", json_path, json.dumps(result.to_json(), indent=2) + "\n"),
    )
    for option, path, _ in outputs:
        try:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise GateError(_unwritten(option, path, err)) from None
    staged: list[tuple[Path, Path]] = []
    with _folders_locked([path for _, path, _ in outputs]):
        try:
            for option, path, text in outputs:
                try:
                    staged += _stage(path, text)
                    if len(staged) == 2:  # both are files: the pair's earlier verdicts go first
                        _remove(staged[-1][1])
                except OSError as err:
                    raise GateError(_unwritten(option, path, err)) from None
            for tmp, target in staged:
                os.replace(tmp, target)
                fsync_folder(target.parent)
        finally:
            for tmp, _ in staged:
                with contextlib.suppress(OSError):
                    tmp.unlink(missing_ok=True)
    if step_summary:
        append_step_summary(markdown, step_summary, summary_path, json_path)
    return markdown


def _unwritten(option: str, path: str | Path, err: OSError) -> str:
    return f"{option} {path}: cannot write it ({os_reason(err)}); the summary and the verdicts are left as they were"


@contextlib.contextmanager
def _folders_locked(paths: Iterable[str | Path]):
    """Hold an exclusive lock (``flock``) on each folder that a regular file of ``paths`` is put into, in path order
    (two gates naming the same folders in turn never wait for each other), while the block runs: two gates writing
    the same ``--summary`` or ``--json`` at once put their pairs in place one after the other, so the summary and
    the verdicts are always one gate's (before, the second's summary could land between the first's two renames).
    Another gate holding a folder is waited for, saying so, at most :data:`OUTPUTS_WAIT_S`, then refused in one line
    (:func:`bench.durable.take_lock`). A folder that cannot be locked (no ``flock``, as on Windows; a file system
    that refuses locks; one that may not be opened) is written as before, unlocked."""
    from bench.durable import fcntl, take_lock

    def regular(path: str | Path) -> bool:
        try:
            return _regular(path)
        except OSError:  # staging it says why, naming the option
            return False

    folders = sorted({Path(os.path.realpath(path)).parent for path in paths if regular(path)})
    with contextlib.ExitStack() as held:
        for folder in folders if fcntl is not None else ():
            try:
                fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
            except OSError:
                continue
            held.callback(os.close, fd)
            with contextlib.suppress(OSError):  # locks refused (NFS without its lock daemon): written unlocked
                take_lock(
                    fd,
                    folder,
                    OUTPUTS_WAIT_S,
                    waiting="another bench gate is writing its summary and verdicts there",
                    hung="a bench gate that hangs or was stopped while it wrote there",
                    undone="the summary and the verdicts are left as they were",
                    again="run bench gate again",
                )
        yield


def _regular(path: str | Path) -> bool:
    """Whether ``path`` is a regular file or none yet (the path itself, not its real path: ``/dev/stdout`` on a pipe
    resolves to ``/proc/PID/fd/pipe:[N]``, no file)."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except FileNotFoundError:
        return True


def _remove(path: Path) -> None:
    """Remove the file ``path`` (if there is one), on disk before anything is renamed after it."""
    path.unlink(missing_ok=True)
    fsync_folder(path.parent)


def _stage(path: str | Path, text: str) -> list[tuple[Path, Path]]:
    """``text`` for the file ``path``: a regular file (or a new one) gets it in a temporary file beside it, returned
    with the file it is to replace (through a link, as a write through it would go); anything else (a pipe someone
    reads, ``/dev/stdout``) is written at once (:func:`_write`), and nothing is returned."""
    target = Path(os.path.realpath(path))
    if not _regular(path):
        _write(path, text, os.O_TRUNC)
        return []
    tmp = target.with_name(f".{target.name}.tmp{os.getpid()}-{threading.get_ident()}")
    try:
        write_synced(tmp, text.encode("utf-8"))
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise
    return [(tmp, target)]


def append_step_summary(
    markdown: str, path: str | Path, summary: str | Path | None = None, verdicts: str | Path | None = None
) -> None:
    """Append ``markdown`` to the file ``path`` named by ``$GITHUB_STEP_SUMMARY``; a :class:`GateError` naming the
    variable, the path and what it must be when it cannot be (a folder, no permission, a missing folder, a run's own
    file, the gate's own ``--json`` file ``verdicts``). Where it is the gate's own ``--summary`` file ``summary``,
    which holds the summary already, nothing is appended."""
    from bench.results import run_holding

    if verdicts is not None and _same_file(path, verdicts):  # appended to, the verdicts were no longer JSON
        raise GateError(
            f"{STEP_SUMMARY}={path}: it is this gate's --json file; appended to, the verdicts would no longer be "
            "JSON; it must name a file of its own; the summary was not appended there"
        )
    if summary is not None and _same_file(path, summary):  # written whole just now: appended, it was there twice
        return
    run = run_holding(path)
    if run is not None:  # appended to, a run's records.jsonl had a Markdown line after each gate (damaged lines)
        raise GateError(
            f"{STEP_SUMMARY}={path}: it is {Path(os.path.realpath(path)).name} of the run in {run}, what the run "
            "measured; it must name a file the summary can be appended to; the summary was not appended there"
        )
    try:
        _write(path, markdown, os.O_APPEND)
    except (OSError, GateError) as err:
        reason = os_reason(err) if isinstance(err, OSError) else "a FIFO (named pipe) that no process reads"
        raise GateError(
            f"{STEP_SUMMARY}={path}: {reason}; it must name a file the summary can be appended to "
            "(GitHub Actions sets it to one); the summary was not appended there"
        ) from None


def _same_file(path: str | Path, other: str | Path) -> bool:
    """Whether ``path`` and ``other`` are one regular file (through links too); a stream both may name
    (``/dev/stdout``) is not."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode) and os.path.samefile(path, other)
    except (OSError, ValueError):  # one of them is not there (or no name a file can have): not the same file
        return False


def _write(path: str | Path, text: str, mode: int) -> None:
    """Write ``text`` to the file ``path`` (truncated or appended to, by ``mode``). The file is opened without
    blocking, so a FIFO that no process reads is refused at once instead of waiting for a reader for ever; a pipe
    someone reads (``--json >(jq .)``, ``/dev/stdout``) is written as any file. A regular file appended to is cut
    back to its old end when a write is refused (a full disk): never left with half a summary."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | mode | getattr(os, "O_NONBLOCK", 0), 0o666)
    except OSError as err:
        if err.errno == errno.ENXIO:
            raise GateError(f"{path}: a FIFO (named pipe) that no process reads; nothing written") from None
        raise
    try:
        os.set_blocking(fd, True)
        found = os.fstat(fd)
        end = found.st_size if stat.S_ISREG(found.st_mode) and mode == os.O_APPEND else None
        try:
            with os.fdopen(fd, "w", encoding="utf-8", closefd=False) as handle:
                handle.write(text)
        except OSError:
            if end is not None:
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, end)
            raise
    finally:
        os.close(fd)
