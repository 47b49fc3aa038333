"""Hardware: placement checks, thread control that restores what it changed, and environment metadata."""

from __future__ import annotations

import contextlib
import functools
import os
import platform
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any, NamedTuple

from bench.errors import NotApplicable
from bench.spec import Placement


def cpu_cores() -> int:
    """CPU cores this process may run on (respects affinity masks and container CPU sets)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


TASKS = "/proc/self/task"

CPU_WAIT_LIMIT = 0.05
"""Timed calls whose threads spent more than 5% of their time waiting for a CPU another process held
(``extra.cpu_wait_share``, from :func:`run_queue_wait_ns`) ran on a busy machine: the latency pass warns
(``BusyWarning``) and ``bench gate`` does not judge them (with ``--rerun``, that run is left out of its side). A
competing process on the same cores slows every call alike, which no split of the calls into blocks can see."""


def run_queue_wait_ns() -> int | None:
    """Nanoseconds this process's threads have spent runnable but waiting for a CPU, summed over its live threads
    (the second field of Linux's ``/proc/self/task/<tid>/schedstat``: run-queue delay, kept by the scheduler for
    every thread). It grows only while another process (or the hypervisor) holds a CPU one of our threads could
    run on: between two readings around timed calls it tells a busy machine from a quiet one directly, whatever
    the calls' own spread. None where it cannot be read (not Linux, a kernel without scheduler statistics)."""
    try:
        threads = os.listdir(TASKS)
    except OSError:
        return None
    total, read = 0, 0
    for tid in threads:
        try:
            with open(f"{TASKS}/{tid}/schedstat", encoding="ascii") as schedstat:
                total += int(schedstat.read().split()[1])
            read += 1
        except (OSError, ValueError, IndexError):  # a thread that ended since listdir, or no statistics
            continue
    return total if read else None


def check_placement(placement: Placement) -> None:
    """Raise :class:`NotApplicable` when the case's hardware is absent or would be oversubscribed."""
    import torch

    if placement.device_type == "cpu":
        cores = cpu_cores()
        if placement.threads is not None and placement.threads > cores:
            raise NotApplicable(
                f"threads={placement.threads} exceeds the {cores} CPU cores available to this process "
                "(oversubscribed timings are not comparable)"
            )
        return
    if placement.device_type == "cuda":
        index = int(placement.device.split(":", 1)[1]) if ":" in placement.device else 0
        if not torch.cuda.is_available():
            raise NotApplicable(f"{placement.device} not available (no CUDA device visible to torch)")
        if index >= torch.cuda.device_count():
            raise NotApplicable(
                f"{placement.device} not available (this machine has {torch.cuda.device_count()} CUDA devices)"
            )
        return
    raise NotApplicable(f"device type '{placement.device_type}' is not supported")


MEMORY_RESERVE_FRACTION, MEMORY_RESERVE_MIN_BYTES = 0.1, 512 * 1024**2
"""What the run-time memory check leaves free of what is available: 10%, and at least 512 MiB. The estimates it
compares are of one batch's inputs and activations only (not the outputs, an engine's workspace, the passes' own
bookkeeping or the allocator's fragmentation); other processes may take memory while a case runs; and on the host,
MemAvailable counts the page cache, including the pages of the libraries this process runs from (libtorch alone is
hundreds of MiB): using it all would evict them and thrash instead of failing. The 512 MiB also covers CUDA's and
cuBLAS's workspaces on a GPU."""


def usable_memory(available: int) -> int:
    """The bytes a case may plan to use of ``available`` (see :data:`MEMORY_RESERVE_FRACTION`)."""
    return available - max(MEMORY_RESERVE_MIN_BYTES, int(available * MEMORY_RESERVE_FRACTION))


MEMINFO = "/proc/meminfo"
CGROUP = "/proc/self/cgroup"
"""This process's cgroups: ``<id>:<controllers>:<path>`` a line, ``0::<path>`` for cgroup v2's unified hierarchy."""
CGROUP_ROOT = "/sys/fs/cgroup"
"""Where the cgroup hierarchies are mounted: cgroup v2's at the root, cgroup v1's memory controller in ``memory/``."""
CGROUP_UNLIMITED = 2**62
"""A cgroup limit of this many bytes or more is no limit (cgroup v1 writes "none" as 2^63 less a page)."""
CGROUP_FILES = {
    "v1": ("memory.limit_in_bytes", "memory.usage_in_bytes", "total_inactive_file"),
    "v2": ("memory.max", "memory.current", "inactive_file"),
}
"""For each cgroup version: the file of a cgroup's limit, of the memory charged to it, and the ``memory.stat`` key of
the page cache the kernel reclaims first (counted as free, as Docker's and Kubernetes's "working set" do)."""


class HostMemory(NamedTuple):
    """What this process may still allocate in host memory, and which figure bound it."""

    available: int
    """Bytes: the smaller of ``MemAvailable`` and a cgroup's limit less its memory in use."""
    source: str
    """``MemAvailable``, or the cgroup file whose limit bound it (``memory.max``, ``memory.limit_in_bytes``)."""
    limit: int | None = None
    """A cgroup's limit, in bytes, when it bound ``available``."""
    in_use: int | None = None
    """The memory charged to that cgroup, less its inactive page cache, in bytes."""


def host_memory_available() -> HostMemory | None:
    """What this process may allocate in host memory without swapping or being killed: the smaller of
    ``MemAvailable`` of ``/proc/meminfo`` (the kernel's estimate for the whole machine: free memory plus the
    reclaimable page cache and slab) and, in a container (Docker, Kubernetes, a systemd unit with ``MemoryMax``), its
    cgroup's limit less what the cgroup already uses (:func:`cgroup_memory_available`). None where neither can be
    read (not Linux): nothing is then checked against it."""
    host = meminfo_available()
    cgroup = cgroup_memory_available()
    if host is None or (cgroup is not None and cgroup.available < host):
        return cgroup
    return HostMemory(host, "MemAvailable")


def meminfo_available() -> int | None:
    """``MemAvailable`` of ``/proc/meminfo``, in bytes; None where it cannot be read (not Linux, or a kernel before
    3.14)."""
    try:
        with open(MEMINFO, encoding="ascii") as meminfo:
            for line in meminfo:
                name, _, value = line.partition(":")
                if name == "MemAvailable":
                    number, unit = value.split()
                    return int(number) * 1024 if unit == "kB" else None
    except (OSError, ValueError):
        return None
    return None


def cgroup_memory_available() -> HostMemory | None:
    """The memory this process's cgroup and its ancestors still allow: for each of them that has a limit (cgroup
    v2's ``memory.max``; cgroup v1's ``memory.limit_in_bytes`` where the memory controller is on v1), the limit less
    the memory charged to it (``memory.current`` / ``memory.usage_in_bytes``) less the inactive page cache the kernel
    reclaims before it kills (``memory.stat``), the smallest of them. The cgroup is read from ``/proc/self/cgroup``;
    its folders that do not exist where the hierarchy is mounted (a container shown only its own cgroup, at the
    mount's root) are skipped. None where no limit is set, or nothing can be read: a file that is missing or holds
    anything but a number leaves its cgroup out, and never raises."""
    try:
        with open(CGROUP, encoding="ascii") as lines:
            found = {}
            for line in lines:
                hierarchy, controllers, path = line.rstrip("\n").split(":", 2)
                if "memory" in controllers.split(","):
                    found["v1"] = path
                elif hierarchy == "0" and not controllers:
                    found["v2"] = path
    except (OSError, ValueError):
        return None
    version = "v1" if "v1" in found else "v2"  # on a hybrid system the memory controller is v1's
    path = PurePosixPath(found.get(version, ""))
    if not path.is_absolute() or ".." in path.parts:
        return None
    mount = Path(CGROUP_ROOT, "memory") if version == "v1" else Path(CGROUP_ROOT)
    parts = path.parts[1:]
    levels = (
        cgroup_level(mount.joinpath(*parts[:depth]), *CGROUP_FILES[version]) for depth in range(len(parts), -1, -1)
    )
    return min((level for level in levels if level is not None), key=lambda level: level.available, default=None)


def cgroup_level(folder: Path, limit_file: str, usage_file: str, inactive_key: str) -> HostMemory | None:
    """What one cgroup's limit still allows (see :func:`cgroup_memory_available`); None without a limit, or where
    its files cannot be read as numbers."""
    limit, usage = read_bytes(folder / limit_file), read_bytes(folder / usage_file)
    if limit is None or usage is None or limit >= CGROUP_UNLIMITED:
        return None
    inactive = 0
    try:
        with open(folder / "memory.stat", encoding="ascii") as stat:
            for line in stat:
                key, _, value = line.partition(" ")
                if key == inactive_key:
                    inactive = min(max(int(value), 0), usage)
    except (OSError, ValueError):
        inactive = 0  # the whole usage counts as taken: the check is stricter, never looser
    in_use = usage - inactive
    return HostMemory(max(limit - in_use, 0), limit_file, limit, in_use)


def read_bytes(file: Path) -> int | None:
    """The non-negative number a cgroup file holds; None for "max", anything else, or a file that cannot be read."""
    try:
        text = file.read_text(encoding="ascii").strip()
    except (OSError, ValueError):
        return None
    return int(text) if text.isdigit() else None


def gpu_memory_available(device: str) -> int | None:
    """Bytes a CUDA device can still give this process: the driver's free memory (``torch.cuda.mem_get_info``) plus
    what torch's caching allocator holds reserved but unused. None where it cannot be read."""
    import torch

    try:
        free, _total = torch.cuda.mem_get_info(device)
        return int(free + torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device))
    except Exception:  # a driver error must not hide the case's own outcome: the check is then not made
        return None


@contextlib.contextmanager
def cpu_threads(threads: int | None) -> Iterator[None]:
    """Set torch's intra-op thread count for the block and restore the previous value after it."""
    import torch

    previous = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def synchronizer(device: str):
    """A function that waits for queued device work (a no-op on CPU), for use inside timed windows."""
    import torch

    if device.startswith("cuda"):
        index = torch.device(device)
        return lambda: torch.cuda.synchronize(index)
    return None


def current_device(device: str):
    """A context in which ``device`` is the current CUDA device (``torch.cuda.device``; nothing off CUDA): for
    libraries that build or run on "the current device" rather than on their inputs' (Torch-TensorRT, torchao's
    fallback integer matmul). Each thread starts on device 0, whatever the case's ``cuda:K``; a case runs inside it
    (:func:`bench.runner.on_device`)."""
    import torch

    if device.startswith("cuda"):
        return torch.cuda.device(torch.device(device).index or 0)  # bare cuda: torch's default, 0
    return contextlib.nullcontext()


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def git_commit(cwd: str | os.PathLike[str] | None = None) -> str | None:
    """HEAD's commit, with ``+dirty`` when tracked files are modified, or ``+unchecked`` when git could not say (a
    damaged index); ``None`` outside a git checkout.

    The check never writes to the user's repository: ``git status`` would otherwise refresh the index and take its
    lock, and a run on a full disk (or killed at that moment) could leave an ``index.lock`` that stops every later
    ``git commit`` there (``--no-optional-locks``)."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=5, check=True
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    try:
        status = subprocess.run(
            ["git", "--no-optional-locks", "status", "--porcelain", "--untracked-files=no"],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=5,
        )
    except (OSError, subprocess.SubprocessError):  # a huge checkout on a slow disk: the commit is still known
        return commit + "+unchecked"
    if status.returncode != 0:  # not known to be clean: never recorded as if it were
        return commit + "+unchecked"
    return commit + ("+dirty" if status.stdout.strip() else "")


def _nvml_driver_version() -> str | None:
    from bench.measure import nvml

    return nvml.driver_version()


@functools.cache
def environment(cwd: str | None = None) -> dict[str, Any]:
    """Facts about this machine and software that decide whether two results are comparable."""
    import torch

    gpu_names: list[str] = []
    if torch.cuda.is_available():
        gpu_names = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    return {
        "cpu_model": _cpu_model(),
        "cpu_cores": cpu_cores(),
        "gpu_name": ", ".join(gpu_names) or None,
        "driver_version": _nvml_driver_version() if gpu_names else None,
        "torch_version": torch.__version__,
        "cuda_version": torch.version.cuda,
        "python_version": platform.python_version(),
        "git_commit": git_commit(cwd),
        "hostname": socket.gethostname(),
    }


def device_environment(env: dict[str, Any], device: str) -> dict[str, Any]:
    """The environment as seen by one case: on ``cuda:K`` the GPU name is that device's."""
    if not device.startswith("cuda"):
        return env
    import torch

    return {**env, "gpu_name": torch.cuda.get_device_name(torch.device(device))}


def this_process() -> dict[str, Any]:
    """This process, as a run's ``meta.json`` records it: pid, host, and its start time where the OS tells."""
    stat = _proc_stat(os.getpid())
    return {"pid": os.getpid(), "host": socket.gethostname(), "started": stat[1] if stat else None}


def _proc_stat(pid: int) -> tuple[str, str] | None:
    """(state, start time in clock ticks) of a process from ``/proc/<pid>/stat``; ``None`` where unreadable."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        return fields[0], fields[19]
    except (OSError, IndexError):
        return None


def process_gone(process: Any) -> bool:
    """True when the process that wrote a run is known to be gone: on this host, no process has its pid, or it is a
    zombie, or another process (a later start time) holds the pid now. Unknown (another host, no process
    information, not POSIX) is False: such a run keeps the status it has."""
    if os.name != "posix" or not isinstance(process, dict) or process.get("host") != socket.gethostname():
        return False
    pid = process.get("pid")
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OverflowError:  # no pid is that large: damaged, not known to be gone
        return False
    except OSError:  # e.g. PermissionError: it exists, run by another user
        pass
    stat, started = _proc_stat(pid), process.get("started")
    return stat is not None and (stat[0] == "Z" or (started is not None and stat[1] != started))
