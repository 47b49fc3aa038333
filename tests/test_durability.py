"""What is written survives a power loss or a VM reset, not only a kill: a file's bytes are ``fsync``'ed before it
is renamed into place, and its folder after (``meta.json``, a promoted baseline).

The order is checked by recording every ``fsync`` and rename the code makes: no test can cut the power."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from bench.gate import history
from bench.results import RunWriter
from tests.gate_helpers import latencies, make_run

pytestmark = pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="names open files through /proc")


@pytest.fixture
def calls(monkeypatch) -> list[tuple[str, ...]]:
    """Every fsync (of a file: its name and size then; of a folder: its name) and rename, in order."""
    found: list[tuple[str, ...]] = []
    fsync, replace, rename = os.fsync, os.replace, os.rename

    def record_fsync(fd):
        name = Path(os.readlink(f"/proc/self/fd/{fd}")).name
        info = os.fstat(fd)
        found.append(("fsync folder", name) if stat.S_ISDIR(info.st_mode) else ("fsync", name, info.st_size > 0))
        return fsync(fd)

    def recording(kind, real):
        def move(src, dst, *args, **kwargs):
            found.append((kind, Path(src).name, Path(dst).name))
            return real(src, dst, *args, **kwargs)

        return move

    monkeypatch.setattr(os, "fsync", record_fsync)
    monkeypatch.setattr(os, "replace", recording("replace", replace))
    monkeypatch.setattr(os, "rename", recording("rename", rename))
    return found


def test_meta_json_is_written_fsynced_renamed_then_its_folder_fsynced(tmp_path, calls):
    """Before, ``meta.json`` was renamed into place unsynced: after a power loss it could be empty or missing although
    the run had finished (its records, fsync'ed one by one, survived)."""
    writer = RunWriter(tmp_path, "r1", {"started_at": "2026-11-22T10:00:00Z"})
    each_write = [("fsync", "meta.tmp", True), ("replace", "meta.tmp", "meta.json"), ("fsync folder", "r1")]
    assert calls == each_write
    calls.clear()
    writer.close("finished")
    assert calls == each_write
    assert not list((tmp_path / "r1").glob("*.tmp"))


def test_a_promoted_baseline_is_on_disk_before_it_replaces_the_old_one(tmp_path, calls):
    """Before, the new baseline's files were renamed into place unsynced and the old baseline deleted: a power loss
    could leave an empty baseline and no old one."""
    results = tmp_path / "results"
    make_run(results, "r1", {"m[a]": {"samples": latencies(1)}})
    history.promote("r1", results)
    make_run(results, "r2", {"m[a]": {"samples": latencies(2)}})
    calls.clear()
    history.promote("r2", results)
    moves = [c for c in calls if c[0] == "rename"]
    staging, old = moves[1][1], moves[0][2]
    assert moves == [("rename", "demo", old), ("rename", staging, "demo")]
    synced = calls[: calls.index(moves[0])]
    assert {c[1] for c in synced if c[0] == "fsync" and c[2]} == {"records.jsonl", "samples.jsonl", "meta.json"}
    assert synced[-1] == ("fsync folder", staging)
    assert calls[calls.index(moves[1]) + 1] == ("fsync folder", "baseline")
    assert not (results / "baseline" / old).exists()
