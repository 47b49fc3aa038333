"""``bench gate --rerun``: the interleaving order and the refusals (no real re-runs here)."""

from __future__ import annotations

import subprocess

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
