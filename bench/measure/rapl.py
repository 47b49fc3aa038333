"""CPU energy from RAPL through the Linux powercap interface (``/sys/class/powercap/intel-rapl:*``).

Intel and, on recent kernels, AMD (Zen) CPUs expose their running-average-power-limit energy counters there:
one ``package-N`` zone per socket and, on many servers, a ``dram`` sub-zone. Each zone has ``energy_uj``
(microjoules, wrapping at ``max_energy_range_uj``). ``core``/``uncore`` sub-zones are parts of the package and
``psys`` covers the whole platform, so only ``package-*`` and ``dram`` zones are summed, never double counted.

RAPL measures the whole socket (every process, the OS, idle power), not only this process.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

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

    @property
    def label(self) -> str:
        """``package-0``, or ``dram-0`` for the dram zone of socket 0 (sysfs calls every one ``dram``)."""
        if self.name == "dram":
            socket = self.path.name.split(":")[1]
            return f"dram-{socket}"
        return self.name

    def read_uj(self) -> int:
        return int((self.path / "energy_uj").read_text().strip())


def rapl_root() -> Path:
    return Path(os.environ.get(ROOT_ENV) or DEFAULT_ROOT)


def find_zones(root: str | os.PathLike[str] | None = None) -> list[RaplZone]:
    """The package and dram zones under ``root``, each readable now; raises :class:`RaplUnavailable` with why not.

    Reasons: ``no RAPL interface`` (no ``intel-rapl:*`` folder: VMs, containers, non-x86), ``RAPL permission
    denied`` (``energy_uj`` is root-only since Linux 5.10), ``RAPL has no package or dram zone``,
    ``RAPL unreadable (...)``.
    """
    base = Path(root) if root is not None else rapl_root()
    try:
        folders = sorted(p for p in base.glob("intel-rapl:*") if p.is_dir())
    except OSError as err:
        raise RaplUnavailable(f"RAPL unreadable ({err.strerror or err})") from None
    if not folders:
        raise RaplUnavailable("no RAPL interface")
    zones: list[RaplZone] = []
    try:
        for folder in folders:
            name = (folder / "name").read_text().strip()
            if not (name.startswith("package") or name == "dram"):
                continue
            zone = RaplZone(name, folder, int((folder / "max_energy_range_uj").read_text().strip()))
            zone.read_uj()  # readable? (permissions are per file)
            zones.append(zone)
    except PermissionError:
        raise RaplUnavailable("RAPL permission denied") from None
    except (OSError, ValueError) as err:
        detail = err.strerror if isinstance(err, OSError) and err.strerror else str(err)
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
