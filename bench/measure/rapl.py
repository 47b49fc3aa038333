"""CPU energy from RAPL through the Linux powercap interface (``/sys/class/powercap/intel-rapl:*``).

Intel and, on recent kernels, AMD (Zen) CPUs expose their running-average-power-limit energy counters there:
one ``package-N`` zone per socket and, on many servers, a ``dram`` sub-zone. Each zone has ``energy_uj``
(microjoules, wrapping at ``max_energy_range_uj``). ``core``/``uncore`` sub-zones are parts of the package and
``psys`` covers the whole platform, so only ``package-*`` and ``dram`` zones are summed, never double counted.

RAPL measures the whole socket (every process, the OS, idle power), not only this process.
"""

from __future__ import annotations

import codecs
import dataclasses
import os
import stat
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from bench.errors import short_name

DEFAULT_ROOT = Path("/sys/class/powercap")
ROOT_ENV = "BENCH_RAPL_ROOT"
"""Environment variable that points the meter at another powercap folder (for tests and containers)."""


class RaplUnavailable(Exception):
    """RAPL cannot be read here; ``str(err)`` is the short reason shown in ``energy_source``."""


@dataclass(frozen=True)
class RaplZone:
    """One counter: ``package-0``, ``dram``, ... with its sysfs folder and wrap-around range."""

    name: str
    path: Path
    max_energy_range_uj: int
    by_folder: bool = False
    """Whether another zone has the same name: the label then names the folder too (see :func:`find_zones`)."""

    @property
    def label(self) -> str:
        """``package-0``, or ``dram-0`` for the dram zone of socket 0 (sysfs calls every one ``dram``); where two
        zones would read the same, ``package-0 (intel-rapl:1)``."""
        if self.name == "dram":
            socket = self.path.name.split(":")[1]
            label = f"dram-{socket}"
        else:
            label = self.name
        return f"{label} ({self.path.name})" if self.by_folder else label

    def read_uj(self) -> int:
        return read_number(self.path / "energy_uj")


def read_number(path: Path, *, least: int = 0) -> int:
    """The whole number of microjoules in one counter file, at least ``least``; else :class:`ValueError` naming the
    file, what it holds and what it may hold.

    The file is opened without blocking and must be a regular file (sysfs attributes are), of which at most 64 bytes
    are read: a FIFO, a device or a huge file in a ``$BENCH_RAPL_ROOT`` tree never hangs or floods the pass."""
    text = _read_attribute(path).strip()
    try:
        number = int(text)
    except ValueError:
        number = None
    if number is None or number < least:
        raise ValueError(
            f"{short_name(str(path), 100)}: {short_name(text, 30)!r} is not a whole number of microjoules"
            f"{' above 0' if least > 0 else ''}"
        )
    return number


def _read_attribute(path: Path) -> str:
    """The text of a sysfs attribute (at most its first 64 bytes); :class:`ValueError` naming the file when it is
    not a regular file or not UTF-8 text (a character cut at the 64th byte is dropped, not refused)."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ValueError(f"{short_name(str(path), 100)}: not a regular file")
        data = os.read(fd, 64)
    finally:
        os.close(fd)
    try:
        return data.decode() if len(data) < 64 else codecs.getincrementaldecoder("utf-8")().decode(data)
    except UnicodeDecodeError:
        raise ValueError(
            f"{short_name(str(path), 100)}: {short_name(repr(data.strip()), 40)} is not UTF-8 text"
        ) from None


def _read_name(path: Path) -> str:
    """A zone's name, printable text; else :class:`ValueError` naming the file (a label with replacement or control
    characters must not reach the records)."""
    name = _read_attribute(path).strip()
    if not name.isprintable():
        raise ValueError(f"{short_name(str(path), 100)}: {short_name(name, 30)!r} is not printable text")
    return name


def rapl_root() -> Path:
    return Path(os.environ.get(ROOT_ENV) or DEFAULT_ROOT)


def find_zones(root: str | os.PathLike[str] | None = None) -> list[RaplZone]:
    """The package and dram zones under ``root``, each readable now; raises :class:`RaplUnavailable` with why not.

    Reasons: ``no RAPL interface`` (no ``intel-rapl:*`` folder: VMs, containers, non-x86; ``... in $BENCH_RAPL_ROOT
    <path>`` when that chose the folder), ``RAPL permission denied`` (``energy_uj`` is root-only since Linux 5.10),
    ``RAPL has no package or dram zone``, ``RAPL unreadable (<file>: ...)`` (a counter that is not a whole number of
    microjoules, a range that is not above 0, a FIFO or folder where a counter file should be, a ``name`` that is not
    printable UTF-8 text: what the zone is cannot be told).
    """
    base = Path(root) if root is not None else rapl_root()
    try:
        folders = sorted(p for p in base.glob("intel-rapl:*") if p.is_dir())
    except OSError as err:
        raise RaplUnavailable(f"RAPL unreadable ({err.strerror or err})") from None
    if not folders:
        chosen = os.environ.get(ROOT_ENV) if root is None else None
        raise RaplUnavailable(
            f"no RAPL interface in ${ROOT_ENV} {short_name(chosen, 100)}" if chosen else "no RAPL interface"
        )
    zones: list[RaplZone] = []
    try:
        for folder in folders:
            name = _read_name(folder / "name")
            if not (name.startswith("package") or name == "dram"):
                continue
            zone = RaplZone(name, folder, read_number(folder / "max_energy_range_uj", least=1))
            zone.read_uj()  # readable? (permissions are per file)
            zones.append(zone)
        labels = Counter(zone.label for zone in zones)
        # two zones of one name (some firmware calls every socket package-0): keyed by label, one would be lost
        zones = [dataclasses.replace(zone, by_folder=labels[zone.label] > 1) for zone in zones]
    except PermissionError:
        raise RaplUnavailable("RAPL permission denied") from None
    except (OSError, ValueError) as err:
        detail = str(err)
        if isinstance(err, OSError) and err.strerror:
            where = f"{short_name(os.fsdecode(err.filename), 100)}: " if err.filename is not None else ""
            detail = f"{where}{err.strerror}"
        raise RaplUnavailable(f"RAPL unreadable ({detail})") from None
    if not zones:
        raise RaplUnavailable("RAPL has no package or dram zone")
    return zones


def read_all(zones: list[RaplZone]) -> dict[str, int]:
    """Every zone's counter now, in microjoules, keyed by :attr:`RaplZone.label`."""
    return {zone.label: zone.read_uj() for zone in zones}


def delta_uj(before: int, after: int, max_energy_range_uj: int) -> int:
    """Energy between two reads of one counter, correcting one wrap-around (the counter restarts at zero).

    A package at 200 W wraps its ~262 kJ range every ~20 minutes; reads are at most a sampling interval apart,
    so at most one wrap lies between two of them.
    """
    diff = after - before
    return diff if diff >= 0 else diff + max_energy_range_uj


def deltas_uj(zones: list[RaplZone], before: Mapping[str, int], after: Mapping[str, int]) -> dict[str, int]:
    """Per-zone energy between two :func:`read_all` results, wrap-around corrected."""
    return {z.label: delta_uj(before[z.label], after[z.label], z.max_energy_range_uj) for z in zones}
