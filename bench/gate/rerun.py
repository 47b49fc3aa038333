"""``bench gate --rerun N``: measure baseline code and current code again, interleaved, in one job (asv style).

A stored baseline was measured hours or weeks ago, maybe on a busier machine; comparing against it reads machine
drift as a regression. ``--rerun`` removes that: it checks the baseline's commit out into a temporary git worktree
and runs the same suites alternately with the baseline code (A) and the current working tree (B), in the order
A B B A A B ... (each pair reversed, so a linear drift of the machine loads both sides equally), then pools each
side's raw samples and gates B against A. It can only re-run code that still exists: the baseline must have been
measured on a clean commit (no ``+dirty``) that this clone has (CI: ``actions/checkout`` with ``fetch-depth: 0``).
"""

from __future__ import annotations

import itertools
import os
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bench.gate.rules import GateError

CHILD_CLOSE_S = 60.0
"""How long a stopped ``bench calibrate`` or ``bench gate --rerun`` waits for its ``bench run`` to close its run (its
finished cases kept) before it kills it: closing takes well under a second."""


def run_to_its_end(command: list[str], **popen: Any) -> subprocess.CompletedProcess[str]:
    """Run ``command`` (a ``bench run``; ``popen``: its ``cwd`` and ``env``), its output captured. A Ctrl-C or a
    SIGTERM stopping this process is passed on to it as SIGTERM, and this process waits (at most
    :data:`CHILD_CLOSE_S`) for it to close its run before it stops too (``bench calibrate: interrupted (SIGTERM)``,
    exit 143; ``bench gate`` alike). Before, a SIGTERM ended this process at once and left the run measuring on, an
    orphan, and a Ctrl-C killed it a quarter of a second later, its run left ``running``."""
    import signal

    from bench.errors import sigterm_as_interrupt

    with (
        sigterm_as_interrupt(),
        subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen) as child,
    ):
        try:
            out, err = child.communicate()
        except KeyboardInterrupt:
            child.send_signal(signal.SIGTERM)  # bench run closes its run as for Ctrl-C: interrupted, cases kept
            try:
                child.communicate(timeout=CHILD_CLOSE_S)
            except (subprocess.TimeoutExpired, KeyboardInterrupt):
                child.kill()
            raise
    return subprocess.CompletedProcess(command, child.returncode, out, err)


def abba(rounds: int, run_a: Callable[[int], str], run_b: Callable[[int], str]) -> tuple[list[str], list[str]]:
    """Call ``run_a`` and ``run_b`` ``rounds`` times each, in the order A B, B A, A B, ...; returns the run ids."""
    if rounds < 1:
        raise GateError(f"--rerun needs at least 1 round, got {rounds}")
    side_a: list[str] = []
    side_b: list[str] = []
    for r in range(rounds):
        pair = ((run_a, side_a), (run_b, side_b))
        for run, runs in pair if r % 2 == 0 else pair[::-1]:
            runs.append(run(r))
    return side_a, side_b


def _git(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, timeout=120)


def baseline_commit(meta: dict, ref: str | None, repo: Path) -> str:
    """The commit whose code the baseline was measured with (or ``ref``), checked to exist in this clone."""
    commit = ref or (meta.get("environment") or {}).get("git_commit")
    if not commit:
        raise GateError("the baseline run records no git commit; pass --baseline-ref REF to say which code it was")
    if commit.endswith(("+dirty", "+unchecked")):
        what = "uncommitted changes" if commit.endswith("+dirty") else "a checkout git could not check for changes"
        raise GateError(
            f"the baseline was measured on {what} ({commit}); its code cannot be re-run. "
            "Pass --baseline-ref REF, or gate without --rerun"
        )
    found = _git(repo, "rev-parse", "--verify", "--quiet", f"{commit}^{{commit}}")
    if found.returncode != 0:
        raise GateError(
            f"commit {commit[:12]} is not in this clone; fetch the history (actions/checkout: fetch-depth: 0)"
        )
    return found.stdout.strip()


def _new_folder(root: Path) -> Path:
    """A folder of its own for one ``--rerun``'s runs: ``<root>/<time>`` (UTC, to the second), else ``<time>-2``,
    ``<time>-3``, ... where another ``bench gate --rerun`` on the same results folder took it: two gates started in
    the same second (a CI matrix on one machine) shared one folder, and the second one's first run was refused
    (``--run-id 'A01': already taken``), failing its gate."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    root.mkdir(parents=True, exist_ok=True)
    for number in itertools.count(1):
        folder = root / (stamp if number == 1 else f"{stamp}-{number}")
        try:
            folder.mkdir()
        except FileExistsError:
            continue
        return folder.resolve()
    raise AssertionError("unreachable")  # itertools.count never ends


def rerun(
    suite_paths: Sequence[str],
    commit: str,
    rounds: int,
    results_dir: str | Path,
    repo: Path,
    pytest_args: Sequence[str] = (),
) -> tuple[list[str], list[str], Path]:
    """Run the suites ``rounds`` times with the code of ``commit`` (A) and of the working tree (B), interleaved.

    Returns the run ids of each side and the folder holding them (``<results>/reruns/<time>/``: see
    :func:`_new_folder`).
    """
    out = _new_folder(Path(results_dir) / "reruns")
    source = Path(tempfile.mkdtemp(prefix="bench-baseline-")) / "src"
    added = _git(repo, "worktree", "add", "--detach", str(source), commit)
    if added.returncode != 0:
        raise GateError(f"cannot check out {commit[:12]}: {added.stderr.strip()}")

    def run_with(checkout: Path, side: str) -> Callable[[int], str]:
        def run(round_index: int) -> str:
            run_id = f"{side}{round_index + 1:02d}"
            env = {
                **os.environ,
                "PYTHONPATH": os.pathsep.join(filter(None, [str(checkout), os.environ.get("PYTHONPATH")])),
            }
            command = [
                sys.executable,
                "-m",
                "bench.cli",
                "run",
                *suite_paths,
                "--results",
                str(out),
                "--run-id",
                run_id,
                *pytest_args,  # the current run's -k, shown in the log line too (it read as the whole suite)
            ]
            print(
                f"bench gate --rerun: round {round_index + 1}, {'baseline' if side == 'A' else 'current'} code: "
                + shlex.join(command[2:]),
                flush=True,
            )
            done = run_to_its_end([*command, "-q"], cwd=checkout, env=env)
            if done.returncode not in (0, 1):  # 1: some cases failed; they become "not comparable"
                print(done.stdout[-4000:], done.stderr[-4000:], sep="\n", file=sys.stderr)
                raise GateError(f"re-running the {side} side failed with exit code {done.returncode}")
            summary = [line for line in done.stdout.splitlines() if line.startswith(f"run {run_id}:")]
            print("  " + (summary[0] if summary else f"run {run_id}: exit code {done.returncode}"), flush=True)
            return run_id

        return run

    try:
        side_a, side_b = abba(rounds, run_with(source, "A"), run_with(repo, "B"))
    finally:
        _git(repo, "worktree", "remove", "--force", str(source))
    return side_a, side_b, out
