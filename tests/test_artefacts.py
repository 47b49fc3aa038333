"""Set-up artefacts cached across processes (bench/artefacts.py): hits only for the same content, damaged entries
rebuilt, the switch honoured, and a cached compressed variant measuring the same as a freshly built one."""

from __future__ import annotations

import copy
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from bench import artefacts
from bench.errors import BenchError, short_name
from tests.test_runner import case, time_calls

# the runner tests' 50 ms budget stops a noisy case before its precision: these tests are about the cache, not that
pytestmark = pytest.mark.filterwarnings("ignore::bench.measure.timing.ImpreciseWarning")


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("BENCH_ARTEFACT_CACHE", "1")
    return tmp_path / "cache" / "artefacts"


def counted(value):
    calls = []

    def make():
        calls.append(1)
        return copy.deepcopy(value)

    return make, calls


def payload_of(entry: Path):
    """What an entry holds, read past its digest line."""
    first, _, rest = entry.read_bytes().partition(b"\n")
    assert first.startswith(artefacts.HEADER)
    return torch.load(io.BytesIO(rest), weights_only=True)


def flip_a_tensor_byte(data: bytes, tensor: torch.Tensor) -> bytes:
    """``data`` with one bit of ``tensor``'s bytes flipped where they are stored: it still unpickles."""
    at = data.index(tensor.numpy().tobytes())
    return data[:at] + bytes([data[at] ^ 0x10]) + data[at + 1 :]


def test_second_request_for_the_same_key_is_a_hit(cache):
    make, calls = counted({"weights": torch.arange(4.0)})
    first, info1 = artefacts.load_or_make("kind", {"a": 1}, make)
    second, info2 = artefacts.load_or_make("kind", {"a": 1}, make)
    assert (info1["artefact_cache"], info2["artefact_cache"]) == ("miss", "hit") and len(calls) == 1
    assert torch.equal(first["weights"], second["weights"])
    _, info3 = artefacts.load_or_make("kind", {"a": 2}, make)  # another key is another entry
    assert info3["artefact_cache"] == "miss" and len(calls) == 2


@pytest.mark.parametrize("damage", [b"not a pickle", b"", "truncated"])
def test_a_damaged_entry_is_rebuilt_not_trusted(cache, damage):
    make, calls = counted([1, 2, 3])
    _, info = artefacts.load_or_make("kind", {"a": 1}, make)
    entry = Path(info["artefact_file"])
    entry.write_bytes(entry.read_bytes()[:40] if damage == "truncated" else damage)
    with pytest.warns(artefacts.CacheWarning, match=rf"^cache .*{entry.name}: damaged entry, rebuilt \(\w+"):
        value, again = artefacts.load_or_make("kind", {"a": 1}, make)
    assert value == [1, 2, 3] and again["artefact_cache"] == "miss" and len(calls) == 2
    assert artefacts.load_or_make("kind", {"a": 1}, make)[1]["artefact_cache"] == "hit"  # stored again, intact


@pytest.mark.parametrize(
    "change, why",
    [
        ("flipped", "ValueError: its bytes do not match the digest stored with them"),
        ("digest flipped", "ValueError: its bytes do not match the digest stored with them"),
        ("another entry's file", r"ValueError: it holds another entry \(\w+\.pt\)"),
    ],
)
def test_an_entry_whose_bytes_changed_is_rebuilt_not_measured(cache, change, why):
    """Before, each of these unpickled and was measured as the real artefact: a flipped bit in a tensor (a
    different model), a copy of another key's entry (another model altogether)."""
    weights = torch.arange(64.0)
    make, calls = counted({"weights": weights})
    _, info = artefacts.load_or_make("kind", {"a": 1}, make)
    entry = Path(info["artefact_file"])
    if change == "flipped":
        entry.write_bytes(flip_a_tensor_byte(entry.read_bytes(), weights))
    elif change == "digest flipped":
        data = entry.read_bytes()
        at = len(artefacts.HEADER)
        entry.write_bytes(data[:at] + (b"1" if data[at : at + 1] == b"0" else b"0") + data[at + 1 :])
    else:
        _, other = artefacts.load_or_make("kind", {"a": 2}, lambda: {"weights": torch.zeros(64)})
        shutil.copyfile(other["artefact_file"], entry)
    with pytest.warns(artefacts.CacheWarning, match=rf"^cache .*{entry.name}: damaged entry, rebuilt \({why}"):
        value, again = artefacts.load_or_make("kind", {"a": 1}, make)
    assert torch.equal(value["weights"], weights) and again["artefact_cache"] == "miss" and len(calls) == 2
    value, last = artefacts.load_or_make("kind", {"a": 1}, make)
    assert last["artefact_cache"] == "hit" and torch.equal(value["weights"], weights)  # stored again, intact


def test_an_entry_from_before_the_digest_is_rebuilt_once(cache):
    """An entry as bench wrote them before (a bare ``torch.save``) cannot be checked: rebuilt once, with a warning,
    and stored with its digest."""
    make, calls = counted([1, 2, 3])
    _, info = artefacts.load_or_make("kind", {"a": 1}, make)
    entry = Path(info["artefact_file"])
    torch.save([1, 2, 3], entry)
    message = rf"^cache .*{entry.name}: entry without a digest \(written by an older bench\), rebuilt$"
    with pytest.warns(artefacts.CacheWarning, match=message):
        value, again = artefacts.load_or_make("kind", {"a": 1}, make)
    assert value == [1, 2, 3] and again["artefact_cache"] == "miss" and len(calls) == 2
    assert entry.read_bytes().startswith(artefacts.HEADER)
    assert artefacts.load_or_make("kind", {"a": 1}, make)[1]["artefact_cache"] == "hit"


@pytest.mark.parametrize("kind", ["FIFO", "character device"])
def test_a_fifo_or_device_in_an_entry_s_place_is_reported_and_replaced(cache, kind):
    """Never opened for reading (a FIFO would block, /dev/zero never ends); before, it was replaced unreported."""
    make, calls = counted([1, 2, 3])
    _, info = artefacts.load_or_make("kind", {"a": 1}, make)
    entry = Path(info["artefact_file"])
    entry.unlink()
    os.mkfifo(entry) if kind == "FIFO" else entry.symlink_to("/dev/zero")
    message = rf"^cache .*{entry.name}: damaged entry, rebuilt \(ValueError: it is a {kind}, not a regular file\)$"
    with pytest.warns(artefacts.CacheWarning, match=message):
        value, again = artefacts.load_or_make("kind", {"a": 1}, make)
    assert value == [1, 2, 3] and again["artefact_cache"] == "miss" and len(calls) == 2
    assert entry.is_file() and not entry.is_symlink()  # the link replaced, not what it pointed to
    assert artefacts.load_or_make("kind", {"a": 1}, make)[1]["artefact_cache"] == "hit"


def test_a_killed_writer_s_temporary_file_is_removed_later_a_live_one_never(cache):
    """A writer killed (SIGKILL) between writing its temporary file and renaming it left ``<entry>.tmp<pid>``
    behind for ever. Now the next load or store in that folder removes it once its writer is gone and it has been
    idle for ``TEMP_GRACE_S``, or once it has been idle for ``TEMP_STALE_S`` whatever its pid; files of live
    writers, files still within the grace (a writer whose pid means nothing here) and other files stay."""
    folder = cache / "kind"
    folder.mkdir(parents=True)
    code = (
        "import os, sys, time; from pathlib import Path; from bench import artefacts;"
        "os.replace = lambda *a: (print('written', flush=True), time.sleep(600));"
        "artefacts.save_atomic([1, 2, 3], Path(sys.argv[1]))"
    )
    writer = subprocess.Popen([sys.executable, "-c", code, str(folder / "killed.pt")], stdout=subprocess.PIPE)
    assert writer.stdout.readline().strip() == b"written"
    os.kill(writer.pid, signal.SIGKILL)
    writer.wait()
    writer.stdout.close()
    killed = folder / f"killed.tmp{writer.pid}"
    assert killed.read_bytes().startswith(artefacts.HEADER)  # what a kill -9 mid-store leaves
    just_killed = folder / f"just-killed.tmp{writer.pid}"
    live = folder / f"live.tmp{os.getpid()}"
    ancient = folder / f"ancient.tmp{os.getpid()}"
    other = folder / "notes.tmp"
    for path in (just_killed, live, ancient, other):
        path.write_bytes(b"partial")
    a_folder = folder / f"folder.tmp{writer.pid}"
    a_folder.mkdir()
    idle = time.time() - artefacts.TEMP_GRACE_S - 60
    for path in (killed, live, other, a_folder):
        os.utime(path, (idle, idle))
    days = time.time() - artefacts.TEMP_STALE_S - 60
    os.utime(ancient, (days, days))
    _, info = artefacts.load_or_make("kind", {"a": 1}, lambda: [1])
    assert info["artefact_cache"] == "miss"
    left = sorted(p.name for p in folder.iterdir())
    entry = Path(info["artefact_file"]).name
    assert left == sorted([a_folder.name, just_killed.name, live.name, other.name, entry, f"{entry}.lock"])
    os.utime(just_killed, (idle, idle))
    artefacts.store([1], folder / "another.pt")  # a store alone cleans up too
    assert not just_killed.exists() and live.exists()


@pytest.mark.parametrize("where", ["folder", "file", "long"])
def test_a_cache_that_cannot_hold_the_entry_costs_the_cache_not_the_case(cache, monkeypatch, tmp_path, where):
    """A folder where the entry's file goes, a cache folder that is a file, a name too long: before, a name too
    long failed the case (OSError: File name too long from is_file) and the others went unreported; then a folder
    in the entry's place read 'the next run builds it again (IsADirectoryError: [Errno 21] Is a directory: ...tmp…',
    as if the next run would store it. It is never removed (it may hold someone's files)."""
    make, _ = counted([1, 2, 3])
    if where == "folder":
        _, info = artefacts.load_or_make("kind", {"a": 1}, make)
        entry = Path(info["artefact_file"])
        entry.unlink()
        entry.mkdir()
    elif where == "file":
        (tmp_path / "afile").write_text("")
        monkeypatch.setenv("BENCH_CACHE_DIR", str(tmp_path / "afile"))
    else:
        monkeypatch.setenv("BENCH_CACHE_DIR", str(tmp_path / ("x" * 300)))
    why = (
        r"not stored, a folder is in its place: every run builds it again until that folder is removed$"
        if where == "folder"
        else r"not stored, the next run builds it again \(\w+"
    )
    for _ in range(2):
        with pytest.warns(artefacts.CacheWarning, match=rf"^cache .*: {why}"):
            value, info = artefacts.load_or_make("kind", {"a": 1}, make)
        assert value == [1, 2, 3] and info["artefact_cache"] == "miss" and info["artefact_file"].startswith("not ")
    assert not list(tmp_path.rglob("*.tmp*"))


def _refuse_to_open(monkeypatch, entry: Path) -> list[str]:
    """Opening ``entry`` raises PermissionError, as another user's mode-600 entry does for anyone but root (these
    tests run as root too); returns the list of what was removed or replaced at ``entry``, to stay empty."""
    real_open = os.open

    def open_(path, *args, **kwargs):
        if Path(path) == entry:
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)

    touched = []
    for name in ("unlink", "remove", "replace", "rename"):
        real = getattr(os, name)

        def wrapper(*args, _real=real, _name=name, **kwargs):
            if any(Path(arg) == entry for arg in args if isinstance(arg, (str, Path))):
                touched.append(_name)
            return _real(*args, **kwargs)

        monkeypatch.setattr(os, name, wrapper)
    monkeypatch.setattr(os, "open", open_)
    return touched


def test_an_entry_that_may_not_be_read_is_left_as_it_is_not_called_damaged(cache, monkeypatch):
    """Another user's entry in a shared cache, mode 600: before, it read 'damaged entry, rebuilt (PermissionError:
    [Errno 13] Permission denied: ...)', bench tried to delete it, and then stored its own build over it. Now one
    warning says it cannot be read and is left as it is; it is neither removed nor stored over, run after run."""
    make, calls = counted([1, 2, 3])
    _, info = artefacts.load_or_make("kind", {"a": 1}, make)
    entry = Path(info["artefact_file"])
    entry.chmod(0o600)
    before = entry.read_bytes()
    touched = _refuse_to_open(monkeypatch, entry)
    message = rf"^cache .*{entry.name}: cannot be read \(permission denied\): this run builds it itself and leaves "
    for run in range(2):
        with pytest.warns(artefacts.CacheWarning) as caught:
            value, again = artefacts.load_or_make("kind", {"a": 1}, make)
        assert len(caught) == 1 and re.match(message + "the entry as it is$", str(caught[0].message))  # one line
        assert value == [1, 2, 3] and again["artefact_cache"] == "miss" and len(calls) == 2 + run
        assert again["artefact_file"] == (
            "not stored: the entry in its place cannot be read (permission denied) and is left as it is"
        )
    assert touched == [] and entry.read_bytes() == before and not list(cache.rglob("*.tmp*"))


def test_only_a_name_ending_in_tmp_and_a_pid_is_a_temporary_file(tmp_path):
    """``\\.tmp(\\d+)$`` also matched before a last newline: a file named ``notes.tmp12\\n`` was removed as stale."""
    stale, not_ours = tmp_path / "entry.tmp999999999", tmp_path / "notes.tmp999999999\n"  # no process has that pid
    for path in (stale, not_ours):
        path.write_bytes(b"partial")
        days = time.time() - artefacts.TEMP_STALE_S - 60
        os.utime(path, (days, days))
    artefacts.remove_stale_temp_files(tmp_path)
    assert not stale.exists() and not_ours.exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can give a file to another user")
def test_another_user_s_stale_temporary_file_is_left_to_them(cache, monkeypatch):
    """A shared folder: a stale ``<entry>.tmp<pid>`` of another user's killed writer was deleted by ours."""
    monkeypatch.setattr(os, "geteuid", lambda: 1000)  # bench runs as user 1000 (root may remove anyone's)
    folder = cache / "kind"
    folder.mkdir(parents=True)
    theirs, ours = folder / "theirs.tmp999999999", folder / "ours.tmp999999999"  # no process has that pid
    for path in (theirs, ours):
        path.write_bytes(b"partial")
        days = time.time() - artefacts.TEMP_STALE_S - 60
        os.utime(path, (days, days))
    os.chown(theirs, 54321, 54321)
    os.chown(ours, 1000, 1000)
    artefacts.remove_stale_temp_files(folder)
    assert theirs.exists() and not ours.exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can give a file to another user")
@pytest.mark.parametrize("damage", [None, b"not a pickle"])
def test_another_user_s_entry_is_never_removed_nor_stored_over(cache, damage, monkeypatch):
    """In a shared folder anyone may write to, bench deleted another user's damaged entry and stored its own in its
    place (and os.replace would take the place of an entry that appeared since the load). Now the case builds its
    own and the other user's file stays, byte for byte and theirs."""
    monkeypatch.setattr(os, "geteuid", lambda: 1000)  # bench runs as user 1000 (root may remove anyone's)
    make, calls = counted([1, 2, 3])
    _, info = artefacts.load_or_make("kind", {"a": 1}, make)
    entry = Path(info["artefact_file"])
    if damage is not None:
        entry.write_bytes(damage)
    os.chown(entry, 54321, 54321)
    before = entry.read_bytes()
    if damage is None:  # an intact entry that is not this run's: only a store could clobber it
        message = rf"^cache .*{entry.name}: not stored, the entry in its place is uid 54321's and is left as it is$"
        with pytest.warns(artefacts.CacheWarning, match=message):
            stored = artefacts.store([4, 5], entry)
    else:
        message = (
            rf"^cache .*{entry.name}: damaged entry, rebuilt \(\w+.*\); it is uid 54321's, so it is left as it is$"
        )
        with pytest.warns(artefacts.CacheWarning, match=message) as caught:
            value, again = artefacts.load_or_make("kind", {"a": 1}, make)
        assert len(caught) == 1 and value == [1, 2, 3] and len(calls) == 2
        stored = again["artefact_file"]
    assert stored == "not stored: the entry in its place is uid 54321's and is left as it is"
    assert entry.read_bytes() == before and entry.stat().st_uid == 54321


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can give a file to another user")
def test_root_rebuilds_a_damaged_entry_whoever_owns_it(cache):
    """A container's root with a bind-mounted cache owned by uid 1000: every file is another uid's, and a damaged
    one was left in place and rebuilt in every run, for ever. Root may remove it, so it does."""
    make, calls = counted([1, 2, 3])
    _, info = artefacts.load_or_make("kind", {"a": 1}, make)
    entry = Path(info["artefact_file"])
    entry.write_bytes(b"not a pickle")
    os.chown(entry, 54321, 54321)
    with pytest.warns(artefacts.CacheWarning, match=r"damaged entry, rebuilt \(\w+.*\)$"):
        artefacts.load_or_make("kind", {"a": 1}, make)
    value, again = artefacts.load_or_make("kind", {"a": 1}, make)
    assert value == [1, 2, 3] and len(calls) == 2 and again["artefact_cache"] == "hit"


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"), reason="needs root and setpriv to be 2 users")
def test_another_user_s_unreadable_entry_survives_a_run_of_another_user(monkeypatch):
    """For real: root's entry (mode 600) in a cache folder anyone may write to, and a run as another user. Before,
    that run deleted root's entry ('damaged entry, rebuilt (PermissionError: ...') and stored its own."""
    import tempfile

    shared = Path(tempfile.mkdtemp(prefix="bench-shared-cache-"))  # pytest's tmp_path is root's alone (0700)
    try:
        shared.chmod(0o777)
        monkeypatch.setenv("BENCH_CACHE_DIR", str(shared))
        monkeypatch.setenv("BENCH_ARTEFACT_CACHE", "1")
        _, info = artefacts.load_or_make("kind", {"a": 1}, lambda: [1, 2, 3])
        entry = Path(info["artefact_file"])
        entry.chmod(0o600)
        for folder in (entry.parent, entry.parent.parent):
            folder.chmod(0o777)
        before = entry.read_bytes()
        code = (
            "import json, warnings; from bench import artefacts\n"
            "with warnings.catch_warnings(record=True) as caught:\n"
            "    warnings.simplefilter('always')\n"
            "    _, info = artefacts.load_or_make('kind', {'a': 1}, lambda: [1, 2, 3])\n"
            "print(json.dumps([info['artefact_file'], [str(w.message) for w in caught]]))"
        )
        env = {**os.environ, "PYTHONPATH": str(Path(artefacts.__file__).parents[1]), "HOME": str(shared)}
        run = subprocess.run(
            ["setpriv", "--reuid=54321", "--regid=54321", "--clear-groups", sys.executable, "-c", code],
            capture_output=True,
            text=True,
            env=env,
            cwd=shared,
        )
        assert run.returncode == 0, run.stderr
        stored, warned = json.loads(run.stdout.splitlines()[-1])
        assert warned == [
            f"cache {short_name(str(entry), 120)}: cannot be read (permission denied): this run builds it itself and "
            "leaves the entry as it is"
        ]
        assert stored == "not stored: the entry in its place cannot be read (permission denied) and is left as it is"
        assert entry.read_bytes() == before and entry.stat().st_uid == 0
    finally:
        shutil.rmtree(shared)


@pytest.mark.skipif(os.name != "posix", reason="$HOME names the home folder on POSIX only")
@pytest.mark.parametrize(
    "home, why",
    [
        ("", "there is no home folder for ~/.cache/bench ($HOME is empty)"),
        (
            "relative/home",
            "$HOME 'relative/home' is not an absolute path, so ~/.cache/bench would move with the working",
        ),
        (" ", "$HOME ' ' is not an absolute path, so ~/.cache/bench would move with the working folder"),
    ],
)
def test_an_empty_or_relative_home_is_no_home_for_the_cache(cache, monkeypatch, home, why):
    """Before, HOME='' put the cache in /.cache/bench (Python reads an empty $HOME as '/') and a relative $HOME put it
    below whatever folder the run started in."""
    monkeypatch.delenv("BENCH_CACHE_DIR")
    monkeypatch.setenv("HOME", home)
    with pytest.raises(BenchError) as refused:
        artefacts.cache_dir()
    assert str(refused.value).startswith(f"$BENCH_CACHE_DIR is unset and {why}")
    assert str(refused.value).endswith(": set $BENCH_CACHE_DIR")
    make, calls = counted(1)
    with pytest.raises(BenchError):
        artefacts.load_or_make("kind", {}, make)
    assert not calls
    monkeypatch.setenv("HOME", "/home/someone")
    assert artefacts.cache_dir() == Path("/home/someone/.cache/bench")


@pytest.mark.parametrize("chosen", ["cache", " ", "./x/../cache"])
def test_a_relative_cache_folder_is_refused_as_a_relative_home_is(cache, monkeypatch, tmp_path, chosen):
    """Before, BENCH_CACHE_DIR=cache was taken below whatever folder each process ran in (a relative $HOME was
    refused for that very reason): a run from another folder, or bench gate --rerun's checkout, built its own cache."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BENCH_CACHE_DIR", chosen)
    with pytest.raises(BenchError) as refused:
        artefacts.cache_dir()
    assert str(refused.value) == (
        f"$BENCH_CACHE_DIR {chosen!r} is not an absolute path, so the cache would move with the working folder: set "
        f"it to an absolute path ({short_name(os.path.abspath(chosen), 60)!r} from here)"
    )
    make, calls = counted(1)
    with pytest.raises(BenchError):
        artefacts.load_or_make("kind", {}, make)
    assert not calls and not (tmp_path / "cache").exists()


def test_switched_off_it_always_makes(cache, monkeypatch):
    monkeypatch.setenv("BENCH_ARTEFACT_CACHE", "0")
    make, calls = counted(1)
    for _ in range(2):
        assert artefacts.load_or_make("kind", {}, make)[1] == {"artefact_cache": "off"}
    assert len(calls) == 2 and not cache.exists()


@pytest.mark.parametrize("value, on", [("", True), ("yes", True), (" On ", True), ("no", False), ("OFF", False)])
def test_the_switch_reads_on_and_off_words_in_any_case(cache, monkeypatch, value, on):
    monkeypatch.setenv("BENCH_ARTEFACT_CACHE", value)
    assert artefacts.switch_problem() is None and artefacts.enabled() is on


@pytest.mark.parametrize("value", ["maybe", "2", "disabled", "o ff"])
def test_a_switch_neither_on_nor_off_is_refused_naming_the_variable(cache, monkeypatch, value):
    """Before, anything but 0, false, no and off (in any case) turned the cache on: BENCH_ARTEFACT_CACHE=disabled
    loaded cached artefacts without a word."""
    monkeypatch.setenv("BENCH_ARTEFACT_CACHE", value)
    message = (
        f"$BENCH_ARTEFACT_CACHE {value!r}: use 1, true, yes, on to cache set-up artefacts or 0, false, no, off not to "
        "(unset or empty: on)"
    )
    assert artefacts.switch_problem() == message
    make, calls = counted(1)
    with pytest.raises(BenchError) as refused:
        artefacts.load_or_make("kind", {}, make)
    assert str(refused.value) == message and not calls and not cache.exists()


def test_an_unpicklable_artefact_costs_the_cache_not_the_caller(cache):
    with pytest.warns(artefacts.CacheWarning, match="not stored"):
        value, info = artefacts.load_or_make("kind", {}, lambda: lambda: 1)
    assert value() == 1 and info["artefact_file"].startswith("not stored")
    assert not list(cache.rglob("*.tmp*"))


def test_module_digest_follows_content():
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 1))
    same = copy.deepcopy(model)
    assert artefacts.module_digest(model) == artefacts.module_digest(same)
    with torch.no_grad():
        same[0].weight[0, 0] += 1e-6
    assert artefacts.module_digest(model) != artefacts.module_digest(same)
    assert artefacts.module_digest(model) != artefacts.module_digest(copy.deepcopy(model).to(torch.bfloat16))


def test_a_cached_variant_measures_what_a_fresh_one_does(cache, tmp_path):
    """Two sessions (as two processes would) run the same distilled case: the second loads the student, and its
    size, parameters and accuracy are the first one's."""
    from bench.results import RunWriter
    from bench.runner import Session

    records = []
    for run in ("first", "second"):
        writer = RunWriter(tmp_path / run, run, {})
        records.append(Session(writer, {}).run_case(case(compression="distill"), time_calls))
        writer.close("finished")
    first, second = (json.loads((tmp_path / r / r / "records.jsonl").read_text()) for r in ("first", "second"))
    assert (first["extra"]["artefact_cache"], second["extra"]["artefact_cache"]) == ("miss", "hit")
    for column in ("model_size_bytes", "params", "accuracy", "accuracy_drop"):
        assert records[0].__getattribute__(column) == records[1].__getattribute__(column), column


def test_onnx_export_is_reused_by_the_next_process(cache):
    """Two processes export the same model: the second finds the first's export."""
    code = (
        "import torch; from bench.engines.onnxruntime import export_onnx;"
        "torch.manual_seed(0); m = torch.nn.Sequential(torch.nn.Linear(4, 2));"
        "print(export_onnx(m, (torch.randn(3, 4),)).info['export_cache'])"
    )
    outcomes = [
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()[-1]
        for _ in range(2)
    ]
    assert outcomes == ["miss", "hit"]


def _trained(cache_dir, module=None, config=None, **info):
    from bench.models._cache import trained

    calls = []

    def train(m):
        calls.append(1)
        with torch.no_grad():
            for p in m.parameters():
                p.fill_(0.5)
        return info

    module = module or torch.nn.Linear(3, 2)
    return module, trained("toy", config or {"seed": 0}, module, train), calls


@pytest.mark.parametrize(
    "damage, why",
    [
        (b"", "EOFError"),
        (os.urandom(200), r"\w+Error"),
        (b"\x80\x73" + bytes(198), r"\w+Error"),  # random bytes that open like a pickle of protocol 115
        ("truncated", "ValueError: its bytes do not match the digest stored with them"),
        ("flipped", "ValueError: its bytes do not match the digest stored with them"),
        ("flipped, undigested file", "ValueError: its tensors do not match the digest stored with them"),
        ("other config", "ValueError: it holds the weights of another config"),
        ("other shapes", r"ValueError: its tensors do not fit the model \(bias, weight\)"),
        ("not weights", "ValueError: no state_dict in it"),
    ],
)
def test_damaged_trained_weights_are_retrained_not_loaded(cache, damage, why):
    """Before, every one of these failed the case with torch's traceback (EOFError, UnpicklingError, 'failed finding
    central directory', KeyError: 'state_dict', 'size mismatch for weight'), and a flipped byte loaded silently as
    wrong weights. A file written before entries had a digest of their bytes (plain ``torch.save``) is still read,
    and its tensors are checked against the digest stored with them."""
    _, first, _ = _trained(cache)
    entry = Path(first["weights_file"])
    good = entry.read_bytes()
    if damage == "truncated":
        entry.write_bytes(good[: len(good) // 2])
    elif damage == "flipped":
        entry.write_bytes(flip_a_tensor_byte(good, torch.full((2, 3), 0.5)))
    elif damage == "flipped, undigested file":
        state = torch.nn.Linear(3, 2).state_dict()
        with torch.no_grad():
            state["weight"].fill_(0.5)
        payload = {"config": {"seed": 0}, "state_dict": state, "sha256": artefacts.state_digest(state), "info": {}}
        state["weight"][0, 0] = 0.25  # as a flipped bit on disk would
        torch.save(payload, entry)
    elif damage == "other config":  # intact entries, digests and all, that hold the wrong thing
        artefacts.save_atomic({**payload_of(entry), "config": {"seed": 1}}, entry)
    elif damage == "other shapes":
        artefacts.save_atomic({"config": {"seed": 0}, "state_dict": torch.nn.Linear(4, 4).state_dict()}, entry)
    elif damage == "not weights":
        artefacts.save_atomic([1, 2], entry)
    else:
        entry.write_bytes(damage)
    with pytest.warns(artefacts.CacheWarning, match=rf"^cache .*{entry.name}: damaged entry, rebuilt \({why}"):
        module, info, calls = _trained(cache)
    assert info["weights_cache"] == "miss" and calls == [1]
    assert all(torch.all(p == 0.5) for p in module.parameters())  # trained from scratch, nothing half loaded
    assert _trained(cache)[1]["weights_cache"] == "hit"  # and stored again, intact


def test_trained_weights_that_cannot_be_stored_still_train_the_model(cache, tmp_path, monkeypatch):
    (tmp_path / "afile").write_text("")
    monkeypatch.setenv("BENCH_CACHE_DIR", str(tmp_path / "afile"))  # before: NotADirectoryError failed the case
    with pytest.warns(artefacts.CacheWarning, match=r"^cache .*afile.*: not stored, the next run builds it again"):
        module, info, _ = _trained(cache)
    assert info["weights_cache"] == "miss" and info["weights_file"].startswith("not stored: NotADirectoryError")
    assert all(torch.all(p == 0.5) for p in module.parameters())


def test_trained_weights_from_before_the_digest_still_load(cache):
    """Neither the digest of the file's bytes nor that of its tensors: as the first cached weights were written."""
    _, first, _ = _trained(cache)
    entry = Path(first["weights_file"])
    payload = payload_of(entry)
    del payload["sha256"]
    torch.save(payload, entry)
    module, info, calls = _trained(cache)
    assert info["weights_cache"] == "hit" and not calls and all(torch.all(p == 0.5) for p in module.parameters())


# ------------------------------------------------------------------------------ two processes, one entry


def _entry(kind: str, key: dict) -> Path:
    name = artefacts.config_hash({**key, "versions": artefacts.library_versions()})
    return artefacts.cache_dir() / "artefacts" / kind / f"{name}.pt"


def test_two_runs_side_by_side_build_a_shared_entry_once(cache, tmp_path):
    """Was: two runs started together both built every entry they shared (a calibration, a distillation, an ONNX
    export), each paying the full set-up. Now the second waits for the first and loads what it stored."""
    made = tmp_path / "made.txt"
    code = (
        "import sys, time\n"
        "from bench import artefacts\n"
        "def make():\n"
        "    open(sys.argv[1], 'a').write('made\\n')\n"
        "    time.sleep(2.0)\n"
        "    return [1, 2, 3]\n"
        "value, info = artefacts.load_or_make('shared', {'a': 1}, make)\n"
        "print(info['artefact_cache'], value)\n"
    )
    root = str(Path(__file__).resolve().parents[1])
    environ = {**os.environ, artefacts.CACHE_ENV: str(cache.parent), "PYTHONPATH": root}
    runs = [
        subprocess.Popen([sys.executable, "-c", code, str(made)], env=environ, stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outputs = sorted(run.communicate(timeout=120)[0].strip() for run in runs)
    assert outputs == ["hit [1, 2, 3]", "miss [1, 2, 3]"] and made.read_text() == "made\n"


def test_a_lock_that_cannot_be_taken_or_is_held_too_long_costs_the_sharing_not_the_entry(cache, monkeypatch):
    from filelock import FileLock

    key = {"a": 2}
    path = _entry("held", key)
    path.parent.mkdir(parents=True)
    holder = FileLock(f"{path}.lock")
    holder.acquire()  # another process building it, for longer than the wait
    monkeypatch.setattr(artefacts, "BUILD_WAIT_S", 0.2)
    try:
        value, info = artefacts.load_or_make("held", key, lambda: [4])
    finally:
        holder.release()
    assert value == [4] and info["artefact_cache"] == "miss" and path.exists()
    other = _entry("unlockable", key)
    Path(f"{other}.lock").mkdir(parents=True)  # a lock that cannot be opened: a folder in its place
    value, info = artefacts.load_or_make("unlockable", key, lambda: [5])
    assert value == [5] and info["artefact_cache"] == "miss" and other.exists()


def test_a_wait_for_another_process_s_lock_is_said_once_with_the_lock_and_the_longest_wait(cache, monkeypatch):
    """Was: a run that needed an entry another process was building (its ``<entry>.pt.lock`` held) waited up to
    900 s without a word. Now, past the first seconds, one line says which lock file it waits for, that another
    process holds it, and the longest it waits; the wait as a whole stays :data:`BUILD_WAIT_S`, after which the
    entry is built here, as before."""
    from filelock import FileLock

    path = _entry("held-long", {"a": 3})
    path.parent.mkdir(parents=True)
    holder = FileLock(f"{path}.lock")
    holder.acquire()  # another process building it, for longer than the wait
    events = []
    acquire = FileLock.acquire

    def recorded(self, timeout=None, poll_interval=0.05, *, blocking=True, **kwargs):
        if self is holder:
            return acquire(self, timeout, poll_interval, blocking=blocking, **kwargs)
        events.append(("acquire", timeout if blocking else "not blocking"))
        # the rest of the wait is not waited for here: the lock is still held at its end, as after minutes
        return acquire(self, min(timeout or 0.0, 0.05), poll_interval, blocking=blocking, **kwargs)

    monkeypatch.setattr(FileLock, "acquire", recorded)
    monkeypatch.setattr(artefacts, "notice", lambda line: events.append(("notice", line)))
    monkeypatch.setattr(artefacts, "BUILD_WAIT_S", 240.0)
    monkeypatch.setattr(artefacts, "WAIT_NOTICE_S", 0.05)
    try:
        value, info = artefacts.load_or_make("held-long", {"a": 3}, lambda: [6])
    finally:
        holder.release()
    assert value == [6] and info["artefact_cache"] == "miss"  # built here once the wait was over
    assert [kind for kind, _ in events] == ["acquire", "acquire", "notice", "acquire"]
    assert events[0] == ("acquire", "not blocking") and events[1] == ("acquire", 0.05)
    assert events[2][1] == (
        f"cache: waiting for {path}.lock: another process holds it while it builds the same entry; this run waits "
        "up to 4 min for it, then builds the entry itself"
    )
    assert events[1][1] + events[3][1] == pytest.approx(240.0)  # the wait as a whole: BUILD_WAIT_S, as before


def test_a_wait_that_ends_before_the_notice_or_is_short_says_nothing(cache, monkeypatch):
    """A lock taken at once, or a wait no longer than :data:`WAIT_NOTICE_S` in all, is not worth a word."""
    from filelock import FileLock

    said = []
    monkeypatch.setattr(artefacts, "notice", said.append)
    assert artefacts.load_or_make("free", {"a": 4}, lambda: [7])[0] == [7]
    path = _entry("held-short", {"a": 4})
    path.parent.mkdir(parents=True)
    holder = FileLock(f"{path}.lock")
    holder.acquire()
    monkeypatch.setattr(artefacts, "BUILD_WAIT_S", 0.1)
    try:
        assert artefacts.load_or_make("held-short", {"a": 4}, lambda: [8])[0] == [8]
    finally:
        holder.release()
    assert said == []


def test_the_plugin_says_a_wait_past_pytest_s_capture_and_below_the_progress_line(capsys):
    """Under a suite run, output capture would hold the line until the case failed: the plugin's notice suspends
    it, clears the progress line, writes one line on stderr, and draws the progress line again."""
    import contextlib
    from types import SimpleNamespace

    from bench.plugin import PROGRESS_PLUGIN, say_now

    events = []

    class Capture:
        @contextlib.contextmanager
        def global_and_fixture_disabled(self):
            events.append("capture off")
            yield
            events.append("capture on")

    class Display:
        def clear(self):
            events.append("clear")

        def draw(self):
            events.append(("draw", capsys.readouterr().err))

    plugins = {"capturemanager": Capture(), PROGRESS_PLUGIN: Display()}

    config = SimpleNamespace(pluginmanager=SimpleNamespace(get_plugin=plugins.get))
    say_now(config, "cache: waiting for x.pt.lock: another\nprocess holds it")  # a line break in a path: escaped
    assert events == [
        "capture off",
        "clear",
        ("draw", "bench: cache: waiting for x.pt.lock: another\\nprocess holds it\n"),
        "capture on",
    ]
    events.clear()
    plugins.clear()  # pytest -p no:capture, and no progress line: written all the same
    say_now(config, "cache: waiting")
    assert events == [] and capsys.readouterr().err == "bench: cache: waiting\n"
