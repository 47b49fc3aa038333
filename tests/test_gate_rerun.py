"""``bench gate --rerun``: the interleaving order and the refusals (no real re-runs here)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from bench.gate import GateError, rerun


def test_abba_order_balances_drift():
    calls: list[str] = []

    def side(name):
        def run(round_index):
            calls.append(f"{name}{round_index}")
            return f"{name}{round_index}"

        return run

    a, b = rerun.abba(3, side("A"), side("B"))
    assert calls == ["A0", "B0", "B1", "A1", "A2", "B2"]
    assert (a, b) == (["A0", "A1", "A2"], ["B0", "B1", "B2"])
    with pytest.raises(GateError, match="at least 1 round"):
        rerun.abba(0, side("A"), side("B"))


@pytest.fixture
def repo(tmp_path):
    def git(*args):
        return subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True, text=True).stdout

    git("init", "-q")
    (tmp_path / "f.txt").write_text("x")
    git("add", "f.txt")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "c")
    return tmp_path, git("rev-parse", "HEAD").strip()


def test_baseline_commit_is_checked(repo):
    path, head = repo
    assert rerun.baseline_commit({"environment": {"git_commit": head}}, None, path) == head
    assert rerun.baseline_commit({}, "HEAD", path) == head
    with pytest.raises(GateError, match="uncommitted changes"):
        rerun.baseline_commit({"environment": {"git_commit": head + "+dirty"}}, None, path)
    with pytest.raises(GateError, match="fetch-depth: 0"):
        rerun.baseline_commit({"environment": {"git_commit": "f" * 40}}, None, path)
    with pytest.raises(GateError, match="--baseline-ref"):
        rerun.baseline_commit({"environment": {}}, None, path)


def test_the_commit_check_never_writes_to_the_users_repository(repo):
    """Was: `git status` refreshed (rewrote) the index under its lock whenever a tracked file's timestamp had moved,
    so a run on a full disk left a stale .git/index.lock that stopped every later `git commit` there."""
    import os

    from bench.hardware import git_commit

    path, head = repo
    index = path / ".git" / "index"
    os.utime(path / "f.txt", (1_000_000_000, 1_000_000_000))  # same content, new timestamp: the index is stale
    before = index.stat().st_mtime_ns
    assert git_commit(path) == head
    assert index.stat().st_mtime_ns == before and not (path / ".git" / "index.lock").exists()
    (path / "f.txt").write_text("y")
    assert git_commit(path) == head + "+dirty"


def test_a_checkout_git_cannot_check_is_never_recorded_as_clean(repo):
    """Was: a `git status` that failed (a damaged index) printed nothing, read as "no changes": the bare commit."""
    from bench.hardware import git_commit

    path, head = repo
    (path / ".git" / "index").write_bytes(b"not an index")
    assert git_commit(path) == head + "+unchecked"
    with pytest.raises(GateError, match="a checkout git could not check for changes"):
        rerun.baseline_commit({"environment": {"git_commit": head + "+unchecked"}}, None, path)


def test_a_git_status_that_times_out_keeps_the_known_commit(repo, monkeypatch):
    """Was: a `git status` slower than 5 s (a huge checkout on a slow disk) dropped the commit already known."""
    from bench import hardware

    path, head = repo
    real = subprocess.run

    def slow_status(command, *args, **kwargs):
        if "status" in command:
            raise subprocess.TimeoutExpired(command, 5)
        return real(command, *args, **kwargs)

    monkeypatch.setattr(hardware.subprocess, "run", slow_status)
    assert hardware.git_commit(path) == head + "+unchecked"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"suites": [{"name": "s"}]}, r"suites\[0\].path: None is not a suite file; --rerun runs it again"),
        ({"suites": [{"name": "s", "path": 5}]}, r"suites\[0\].path: 5 is not a suite file"),
        ({"suites": [{"name": "s", "path": "--collect-only"}]}, r"suites\[0\].path: '--collect-only' is not a suite"),
        ({"suites": []}, "names no suite; --rerun has nothing to run again"),
        (
            {"suites": [{"name": "s", "path": "suites/quick.yaml"}], "argv": {"-k": "x"}},
            r"argv: \{'-k': 'x'\} is not a list of arguments",
        ),
    ],
)
def test_a_current_run_whose_meta_cannot_say_what_to_rerun_is_one_line(tmp_path, capsys, change, message):
    """Was: KeyError/TypeError tracebacks from bench gate --rerun (a suite without its path, argv not a list); a
    path that is an option went to bench run as one, and no suite at all re-ran the default suite."""
    import json
    import re

    from bench.cli import main
    from tests.test_store_damage import three_cases

    three_cases(tmp_path, "r1")
    current = three_cases(tmp_path, "r2", started="2026-01-02T00:00:00Z")
    meta = json.loads((current / "meta.json").read_text())
    (current / "meta.json").write_text(json.dumps({**meta, **change}))
    gate = ["gate", "--rerun", "1", "--baseline-ref", "HEAD", "--baseline", "r1", "--current", "r2"]
    out = ["--results", str(tmp_path), "--summary", str(tmp_path / "s.md"), "--json", str(tmp_path / "v.json")]
    assert main([*gate, *out]) == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert re.fullmatch(rf"bench gate: error: {re.escape(str(current / 'meta.json'))}: {message}.*", error), error
    assert not (tmp_path / "reruns").exists()  # nothing was run again


def test_two_reruns_started_in_the_same_second_each_get_their_own_folder(tmp_path, monkeypatch):
    """Two `bench gate --rerun` on one results folder (a CI matrix on one machine) started in the same second: both
    wrote to results/reruns/<that second>/, and the second's first run was refused ('--run-id A01: already taken'),
    failing its gate with exit 2. (No real re-runs here: git and bench run are stood in for.)"""
    folders = []

    def bench_run(command, cwd, **kwargs):
        results, run_id = Path(command[command.index("--results") + 1]), command[command.index("--run-id") + 1]
        try:
            (results / run_id).mkdir()  # as bench run takes its run id: never over another run
        except FileExistsError:
            return subprocess.CompletedProcess(command, 4, "", f"ERROR: --run-id {run_id!r}: already taken")
        folders.append(results)
        return subprocess.CompletedProcess(command, 0, f"run {run_id}: 1 ok, 0 failed, 0 skipped", "")

    monkeypatch.setattr(rerun, "_git", lambda repo, *args: subprocess.CompletedProcess(args, 0, "", ""))
    monkeypatch.setattr(rerun, "run_to_its_end", bench_run)  # each bench run, stopped with the gate
    monkeypatch.setattr(rerun.time, "strftime", lambda form, when=None: "20260101T000000Z")  # one second for both
    monkeypatch.setattr(rerun.tempfile, "mkdtemp", lambda prefix: str(tmp_path / "checkout"))
    runs = [rerun.rerun(["s.yaml"], "c" * 40, 1, tmp_path / "results", tmp_path, ()) for _ in range(2)]
    assert [(a, b) for a, b, _ in runs] == [(["A01"], ["B01"])] * 2
    first, second = (folder for _, _, folder in runs)
    assert first != second and first.parent == second.parent == (tmp_path / "results" / "reruns").resolve()
    assert first.name == "20260101T000000Z" and folders == [first, first, second, second]  # each gate's own runs


def test_the_log_line_of_each_rerun_shows_the_selection_it_runs(tmp_path, monkeypatch, capsys):
    """Was: `round 1, baseline code: bench.cli run s.yaml --results ... --run-id A01` while the run was given the
    current run's `-k bs16 and fp32` too: a CI log read as if the whole suite was measured again."""
    commands = []

    def bench_run(command, **popen):
        commands.append(command)
        run_id = command[command.index("--run-id") + 1]
        return subprocess.CompletedProcess(command, 0, f"run {run_id}: 1 ok, 0 failed, 0 skipped", "")

    monkeypatch.setattr(rerun, "_git", lambda repo, *args: subprocess.CompletedProcess(args, 0, "", ""))
    monkeypatch.setattr(rerun, "run_to_its_end", bench_run)
    monkeypatch.setattr(rerun.tempfile, "mkdtemp", lambda prefix: str(tmp_path / "checkout"))
    rerun.rerun(["s.yaml"], "c" * 40, 1, tmp_path / "results", tmp_path, ("-k", "bs16 and fp32"))
    logged = [line for line in capsys.readouterr().out.splitlines() if line.startswith("bench gate --rerun:")]
    assert len(logged) == 2 and all(line.endswith(" -k 'bs16 and fp32'") for line in logged)
    assert all(command[-3:] == ["-k", "bs16 and fp32", "-q"] for command in commands)


def test_a_sigterm_handler_python_did_not_set_is_put_back_as_the_default(monkeypatch):
    """Was: where the SIGTERM handler was not set from Python (``signal.signal`` returns ``None``: an embedding
    program's), putting it back raised ``TypeError`` out of every finished bench run; now the default is put back."""
    import signal
    import sys

    real, before = signal.signal, signal.getsignal(signal.SIGTERM)
    set_to = []

    def python_did_not_set_it(signum, handler):
        set_to.append(handler)
        previous = real(signum, handler)
        return None if len(set_to) == 1 else previous

    monkeypatch.setattr(signal, "signal", python_did_not_set_it)
    try:
        done = rerun.run_to_its_end([sys.executable, "-c", "print('ran')"])
    finally:
        real(signal.SIGTERM, before)
    assert (done.returncode, done.stdout) == (0, "ran\n")
    assert set_to[-1] is signal.SIG_DFL  # what the process had before Python set a handler
