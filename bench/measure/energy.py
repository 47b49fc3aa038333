"""Energy pass: the case's model runs in a loop for ``measure.energy_min_s`` while a meter is read.

* ``cuda:K`` -- NVML: the difference of the board's energy counter (``nvmlDeviceGetTotalEnergyConsumption``,
  mJ) over the window, ``energy_source: nvml-counter``; where the counter is unsupported (pre-Volta), board power
  (``nvmlDeviceGetPowerUsage``, mW) sampled by a thread and integrated with the trapezoid rule,
  ``nvml-power-sampling``. With the counter, power is sampled too and the two energies are compared
  (``extra.energy_counter_vs_sampling_pct``). On a MIG slice NVML reads the whole board (every slice's work):
  the energy columns stay empty, ``energy_source`` says why, and the board's figures are kept as
  ``extra.energy_board_*``.
* ``cpu`` -- RAPL package + dram counters (``bench.measure.rapl``), ``energy_source: rapl``.
* Nothing readable -- every energy column is ``None`` (never 0) and ``energy_source`` is
  ``unavailable: <reason>``; the model is not run at all then, so the pass costs nothing. A CPU case may opt in to
  a labelled estimate instead (``measure.cpu_tdp_w``, ``energy_source: estimate-tdp``).

See ``docs/energy.md`` for the methodology.
"""

from __future__ import annotations

import logging
import os
import time
import warnings
from collections.abc import Callable
from typing import Any

from bench.errors import BenchWarning
from bench.measure import PassResult, nvml, rapl
from bench.measure.window import Window, run_window
from bench.spec import MeasureSpec

SAMPLE_INTERVAL_S = 0.02
"""How often the sampler thread reads power (GPU) or the RAPL counters (CPU) during the window."""

FIELDS = (
    "energy_j_per_item",
    "energy_j_per_batch",
    "power_w_avg",
    "power_w_peak",
    "gpu_util_pct",
    "gpu_mem_used_mb",
    "sm_clock_mhz",
    "gpu_temp_c",
    "energy_source",
    "energy_window_s",
)
"""The Record columns this pass fills; the returned dict also has ``info`` (goes to ``Record.extra``)."""

log = logging.getLogger(__name__)
_reported: set[str] = set()


class EnergyUnavailableWarning(BenchWarning):
    """A GPU case could not measure energy (no NVML, unsupported board); shown once per reason and run."""


Clock = Callable[[], float]


def measure_energy(
    call: Callable[[], object],
    device: str,
    batch_size: int,
    spec: MeasureSpec,
    *,
    clock: Clock = time.perf_counter,
    sample_interval_s: float | None = SAMPLE_INTERVAL_S,
    rapl_root: str | os.PathLike[str] | None = None,
) -> dict[str, Any]:
    """Energy columns for one case; empty values with ``energy_source`` saying why when nothing is readable.

    ``call()`` runs one batch (synchronised on GPU). The result has every key of :data:`FIELDS` plus ``info``,
    figures for ``Record.extra`` (calls in the window, the counter-vs-sampling check, RAPL zones).
    """
    if not spec.energy:
        return _result("off: measure.energy is false")
    if device.startswith("cuda"):
        return _measure_gpu(call, device, batch_size, spec, clock, sample_interval_s)
    return _measure_cpu(call, batch_size, spec, clock, sample_interval_s, rapl_root)


def trapezoid_j(times_s: list[float], power_w: list[float]) -> float:
    """Energy in joules from power samples (watts at the given seconds), by the trapezoid rule."""
    return sum((power_w[i] + power_w[i + 1]) / 2 * (times_s[i + 1] - times_s[i]) for i in range(len(times_s) - 1))


# ----------------------------------------------------------------------------------------------- results


def _result(source: str, **values: Any) -> dict[str, Any]:
    info = values.pop("info", {})
    result: dict[str, Any] = dict.fromkeys(FIELDS)
    result.update(values, energy_source=source, info=info)
    return result


def _unavailable(reason: str, *, gpu: bool, info: dict[str, Any] | None = None) -> dict[str, Any]:
    """Empty energy columns with the reason; the reason is reported once per process (a warning on GPU)."""
    source = f"unavailable: {reason}"
    if source not in _reported:
        _reported.add(source)
        if gpu:
            warnings.warn(
                f"GPU energy not measured: {reason} (the energy columns stay empty; see docs/energy.md)",
                EnergyUnavailableWarning,
                stacklevel=4,
            )
        else:
            log.info("CPU energy not measured: %s (see docs/energy.md)", reason)
    return _result(source, info=info or {})


def _per_call(energy_j: float, window: Window, batch_size: int) -> dict[str, float]:
    return {
        "energy_j_per_batch": energy_j / window.calls,
        "energy_j_per_item": energy_j / (window.calls * batch_size),
        "power_w_avg": energy_j / window.seconds if window.seconds > 0 else None,
        "energy_window_s": window.seconds,
    }


# ----------------------------------------------------------------------------------------------- GPU (NVML)


def _gpu_readers(nv: Any, handle: Any) -> dict[str, Callable[[], float]]:
    """The readings this board supports, each probed once: unsupported ones are left out, other errors raise."""
    temperature = getattr(nv, "nvmlDeviceGetTemperatureV", None)
    try:
        if temperature is None:
            raise AttributeError
        temperature(handle, nv.NVML_TEMPERATURE_GPU)
    except (AttributeError, nv.NVMLError):  # drivers before the versioned call
        temperature = nv.nvmlDeviceGetTemperature
    candidates: dict[str, Callable[[], float]] = {
        "energy_mj": lambda: nv.nvmlDeviceGetTotalEnergyConsumption(handle),
        "power_w": lambda: nv.nvmlDeviceGetPowerUsage(handle) / 1000.0,
        "util_pct": lambda: nv.nvmlDeviceGetUtilizationRates(handle).gpu,
        "mem_used_mb": lambda: nv.nvmlDeviceGetMemoryInfo(handle).used / 2**20,
        "sm_clock_mhz": lambda: nv.nvmlDeviceGetClockInfo(handle, nv.NVML_CLOCK_SM),
        "temp_c": lambda: temperature(handle, nv.NVML_TEMPERATURE_GPU),
    }
    readers = {}
    for name, read in candidates.items():
        try:
            read()
        except nv.NVMLError_NotSupported:
            continue
        except nv.NVMLError:
            if name in ("energy_mj", "power_w"):
                raise
            continue  # a side reading that fails (permissions, vGPU) is simply not reported
        readers[name] = read
    return readers


def _measure_gpu(
    call: Callable[[], object],
    device: str,
    batch_size: int,
    spec: MeasureSpec,
    clock: Clock,
    interval_s: float | None,
) -> dict[str, Any]:
    nv, reason = nvml.backend()
    if nv is None:
        return _unavailable(reason or "NVML not available", gpu=True)
    try:
        handle = nvml.device_handle(nv, device)
    except nv.NVMLError as err:
        return _unavailable(f"NVML has no device for {device} ({err})", gpu=True)
    try:
        handle, mig = nvml.board_of(nv, handle)
        readers = _gpu_readers(nv, handle)
    except nv.NVMLError as err:
        return _unavailable(f"NVML error ({err})", gpu=True)
    if "energy_mj" not in readers and "power_w" not in readers:
        return _unavailable("NVML reports neither energy nor power for this GPU", gpu=True)

    def read() -> dict[str, float]:
        return {name: fn() for name, fn in readers.items()}

    try:
        window = run_window(call, spec.energy_min_s, read, clock, interval_s)
    except nv.NVMLError as err:
        return _unavailable(f"NVML error during the energy window ({err})", gpu=True)
    if window.error is not None:
        return _unavailable(f"NVML error during the energy window ({window.error})", gpu=True)
    result = gpu_result(window, batch_size)
    return whole_board(result, device) if mig else result


BOARD_FIELDS = ("energy_j_per_item", "energy_j_per_batch", "power_w_avg", "power_w_peak", "gpu_util_pct",
                "gpu_mem_used_mb")  # fmt: skip
"""The columns a MIG slice cannot have from NVML: they are the whole board's. The SM clock and the temperature are
the slice's too (one clock, one die) and stay."""


def whole_board(result: dict[str, Any], device: str) -> dict[str, Any]:
    """A MIG slice's energy result: NVML's figures are the whole board's (every slice's work and the board's idle
    floor), so the energy, power, utilisation and memory columns stay empty and ``energy_source`` says why; the
    board's figures are kept in ``extra`` as ``energy_board_<column>`` (``energy_board_j_per_item``,
    ``energy_board_power_w_avg``, ...; ``energy_board_source``: how they were read).
    A result that is already unavailable is returned as it is."""
    method = result["energy_source"]
    if method.startswith("unavailable"):
        return result
    info = dict(result["info"])
    info |= {
        f"energy_board_{name.removeprefix('energy_')}": result[name]
        for name in BOARD_FIELDS
        if result[name] is not None
    }
    info["energy_board_source"] = method
    info["energy_board_total_j"] = info.pop("energy_total_j")
    reason = (
        f"{device} is a MIG slice and NVML reads the whole board's energy and power (every slice's work); "
        "the board's figures are in extra.energy_board_*"
    )
    empty = _unavailable(reason, gpu=True, info=info)
    keep = ("sm_clock_mhz", "gpu_temp_c", "energy_window_s")
    return empty | {name: result[name] for name in keep}


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def gpu_result(window: Window, batch_size: int) -> dict[str, Any]:
    """Columns from one NVML window: counter energy where supported, else integrated power samples."""
    times = [t for t, _ in window.samples]
    readings = [r for _, r in window.samples]
    first, last = readings[0], readings[-1]

    def series(name: str) -> list[float]:
        return [float(r[name]) for r in readings if name in r]

    info: dict[str, Any] = {"energy_calls": window.calls, "energy_samples": len(readings)}
    power = series("power_w")
    sampled_j = trapezoid_j(times, power) if "power_w" in first else None
    counter_j = (last["energy_mj"] - first["energy_mj"]) / 1000.0 if "energy_mj" in first else None
    unread = None  # why a counter NVML supports gave no reading
    if counter_j is not None and counter_j < 0:
        unread = "went backwards"
        info["energy_note"] = "NVML energy counter went backwards (driver reloaded?); integrated power samples"
    elif counter_j == 0:  # a GPU never draws nothing: a counter that did not move is no reading, not 0 J
        unread = "did not move"
        info["energy_note"] = "NVML energy counter did not move in the window; integrated power samples"
    if unread is not None:
        counter_j = None
    if counter_j is not None:  # above 0
        energy_j, source = counter_j, "nvml-counter"
        if sampled_j is not None:
            info["energy_sampled_j"] = sampled_j
            info["energy_counter_vs_sampling_pct"] = 100.0 * (sampled_j - counter_j) / counter_j
    elif sampled_j is not None and any(power):
        energy_j, source = sampled_j, "nvml-power-sampling"
    elif sampled_j is not None:  # a board never draws nothing: 0 W throughout is no reading, as a still counter is
        counter = " and no moving energy counter" if "energy_mj" in first else ""
        return _unavailable(f"NVML reported 0 W throughout the window{counter}", gpu=True, info=info)
    else:
        return _unavailable(f"NVML energy counter {unread} and power is not supported", gpu=True, info=info)
    info["energy_total_j"] = energy_j
    mem, temp = series("mem_used_mb"), series("temp_c")
    return _result(
        source,
        **_per_call(energy_j, window, batch_size),
        power_w_peak=max(power) if power else None,
        gpu_util_pct=_mean(series("util_pct")),
        gpu_mem_used_mb=max(mem) if mem else None,
        sm_clock_mhz=_mean(series("sm_clock_mhz")),
        gpu_temp_c=max(temp) if temp else None,
        info=info,
    )


# ----------------------------------------------------------------------------------------------- CPU (RAPL)


def _measure_cpu(
    call: Callable[[], object],
    batch_size: int,
    spec: MeasureSpec,
    clock: Clock,
    interval_s: float | None,
    root: str | os.PathLike[str] | None,
) -> dict[str, Any]:
    try:
        zones = rapl.find_zones(root)
    except rapl.RaplUnavailable as err:
        if spec.cpu_tdp_w:
            return estimate_tdp(call, batch_size, spec, clock, reason=str(err))
        return _unavailable(str(err), gpu=False)
    try:
        window = run_window(call, spec.energy_min_s, lambda: rapl.read_all(zones), clock, interval_s)
    except (OSError, ValueError) as err:
        return _unavailable(f"RAPL read failed during the energy window ({err})", gpu=False)
    if window.error is not None:
        return _unavailable(f"RAPL read failed during the energy window ({window.error})", gpu=False)
    return rapl_result(zones, window, batch_size, interval_s)


def rapl_result(
    zones: list[rapl.RaplZone], window: Window, batch_size: int, interval_s: float | None
) -> dict[str, Any]:
    """Columns from one RAPL window: per-interval deltas (each wrap-corrected) summed over zones and intervals."""
    totals_uj = dict.fromkeys((z.label for z in zones), 0)
    peak_w: float | None = None
    for (t0, before), (t1, after) in zip(window.samples, window.samples[1:], strict=False):
        deltas = rapl.deltas_uj(zones, before, after)
        for label, delta in deltas.items():
            totals_uj[label] += delta
        if t1 - t0 >= (interval_s or 0.0) / 2:  # the short tail interval would give a noisy power
            watts = sum(deltas.values()) / 1e6 / (t1 - t0)
            peak_w = watts if peak_w is None else max(peak_w, watts)
    energy_j = sum(totals_uj.values()) / 1e6
    if energy_j == 0 and window.calls:  # a counter that did not move is not a measured 0 J (docs/energy.md)
        return _unavailable(
            f"the RAPL counters ({'+'.join(totals_uj)}) did not move in a {window.seconds:.2g} s window of "
            f"{window.calls} calls: a frozen or emulated counter, no measurement",
            gpu=False,
        )
    columns = _per_call(energy_j, window, batch_size)
    info = {
        "energy_calls": window.calls,
        "energy_samples": len(window.samples),
        "energy_total_j": energy_j,
        "energy_rapl_zones": "+".join(totals_uj),
        "energy_rapl_j": {label: uj / 1e6 for label, uj in totals_uj.items()},
    }
    return _result("rapl", **columns, power_w_peak=peak_w if peak_w is not None else columns["power_w_avg"], info=info)


def estimate_tdp(
    call: Callable[[], object], batch_size: int, spec: MeasureSpec, clock: Clock, *, reason: str
) -> dict[str, Any]:
    """Opt-in estimate when no meter is readable: ``cpu_tdp_w`` × this process's share of all logical CPUs.

    Share = process CPU seconds in the window / (window seconds × ``os.cpu_count()``). Idle and uncore power are
    not modelled; the figure is labelled ``estimate-tdp`` and must not be compared with metered rows.
    """
    window = run_window(call, spec.energy_min_s, time.process_time, clock, None)
    cpu_s = window.samples[-1][1] - window.samples[0][1]
    logical = os.cpu_count() or 1
    share = min(1.0, cpu_s / (window.seconds * logical)) if window.seconds > 0 else 0.0
    energy_j = spec.cpu_tdp_w * share * window.seconds
    info = {
        "energy_calls": window.calls,
        "energy_total_j": energy_j,
        "energy_cpu_share": share,
        "energy_note": f"estimate: {spec.cpu_tdp_w:g} W TDP x {share:.1%} CPU share of {logical} CPUs "
        f"(no meter: {reason})",
    }
    return _result("estimate-tdp", **_per_call(energy_j, window, batch_size), info=info)


def energy_pass(call: Callable[[], object], device: str, batch_size: int, spec: MeasureSpec) -> PassResult:
    """The energy pass of one case as a :class:`~bench.measure.PassResult`."""
    result = measure_energy(call, device, batch_size, spec)
    extra = result.pop("info", {})
    return PassResult("energy", columns=result, extra=extra)
