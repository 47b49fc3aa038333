"""A fake NVML with the ``pynvml`` functions the energy pass uses, so its real code path runs without a GPU.

Each :class:`FakeGpu` draws a known power (constant or a function of time); its energy counter is the integral
of that power since ``nvmlInit``, advanced only every ``counter_update_s`` like the real counter. Features can be
switched off to raise ``NVMLError_NotSupported`` exactly as pre-Volta boards do. Errors are pynvml's own classes.

    with nvml.use_backend(FakeNvml([FakeGpu(power_w=120.0)])):
        measure_energy(call, "cuda:0", 8, spec)
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pynvml


@dataclass
class FakeGpu:
    """One simulated board. Power in watts; ``unsupported`` names metrics that raise ``NotSupported``."""

    power_w: float | Callable[[float], float] = 100.0
    """Board power, or a function of seconds since ``nvmlInit`` returning watts."""
    counter_update_s: float = 0.02
    """The energy counter advances in steps of this many seconds (real boards: ~10-100 ms)."""
    counter_start_mj: int = 123_456_789
    """Counter value at ``nvmlInit`` (energy since the driver loaded)."""
    counter_reset_after_s: float | None = None
    """Simulate a driver reload: after this many seconds the counter restarts from zero."""
    unsupported: frozenset[str] = frozenset()
    """Any of ``energy``, ``power``, ``utilization``, ``memory``, ``clock``, ``temperature``, ``temperature_v``."""
    util_pct: int = 87
    mem_used_mb: float = 1234.0
    sm_clock_mhz: int = 1410
    temp_c: int = 61
    pci_bus_id: str = "00000000:3B:00.0"
    uuid: str = "GPU-00000000-1111-2222-3333-444444444444"
    mig_mode: int | None = 0
    """Current MIG mode (``NVML_DEVICE_MIG_ENABLE`` = 1: CUDA sees only its slices); ``None``: no MIG (pre-Ampere)."""
    mig_uuids: tuple[str, ...] = ()
    """The ``MIG-`` UUIDs of its slices: MIG device handles, modelled without readings (each raises NotSupported)."""
    calls: dict[str, int] = field(default_factory=dict)


@dataclass(eq=False)
class FakeMigDevice:
    """A MIG device handle: a slice of ``board``."""

    board: FakeGpu
    uuid: str


class FakeNvml:
    """Module-like stand-in for ``pynvml``: same function names, same units (mW, mJ, bytes, MHz, °C)."""

    NVML_CLOCK_SM = pynvml.NVML_CLOCK_SM
    NVML_TEMPERATURE_GPU = pynvml.NVML_TEMPERATURE_GPU

    def __init__(
        self,
        gpus: list[FakeGpu] | None = None,
        *,
        init_error: BaseException | None = None,
        clock: Callable[[], float] = time.perf_counter,
        driver: str = "550.54.15",
    ):
        self.gpus = list(gpus if gpus is not None else [FakeGpu()])
        self.init_error = init_error
        self.clock = clock
        self.driver = driver
        self.started: float | None = None
        self.init_calls = 0

    def __getattr__(self, name: str) -> Any:
        if name.startswith(("NVMLError", "NVML_")):  # error classes and constants are pynvml's own
            return getattr(pynvml, name)
        raise AttributeError(name)

    # -- library ---------------------------------------------------------------------------------------

    def nvmlInit(self) -> None:
        self.init_calls += 1
        if self.init_error is not None:
            raise self.init_error
        self.started = self.clock()

    def nvmlShutdown(self) -> None:
        self.started = None

    def nvmlSystemGetDriverVersion(self) -> str:
        self._check_init()
        return self.driver

    def nvmlDeviceGetCount(self) -> int:
        self._check_init()
        return len(self.gpus)

    def nvmlDeviceGetHandleByIndex(self, index: int) -> FakeGpu:
        self._check_init()
        if not 0 <= index < len(self.gpus):
            raise pynvml.NVMLError_InvalidArgument()
        return self.gpus[index]

    def nvmlDeviceGetHandleByPciBusId(self, bus_id: str) -> FakeGpu:
        self._check_init()
        for gpu in self.gpus:
            if gpu.pci_bus_id.lower() == bus_id.lower():
                return gpu
        raise pynvml.NVMLError_NotFound()

    def nvmlDeviceGetHandleByUUID(self, uuid: str) -> FakeGpu | FakeMigDevice:
        self._check_init()
        for gpu in self.gpus:
            if gpu.uuid == uuid:
                return gpu
            if uuid in gpu.mig_uuids:
                return FakeMigDevice(gpu, uuid)
        raise pynvml.NVMLError_NotFound()

    # -- MIG -------------------------------------------------------------------------------------------

    def nvmlDeviceGetMigMode(self, gpu: FakeGpu) -> list[int]:
        self._check_init()
        if isinstance(gpu, FakeMigDevice) or gpu.mig_mode is None:
            raise pynvml.NVMLError_NotSupported()
        return [gpu.mig_mode, gpu.mig_mode]

    def nvmlDeviceIsMigDeviceHandle(self, gpu: FakeGpu | FakeMigDevice) -> int:
        self._check_init()
        return int(isinstance(gpu, FakeMigDevice))

    def nvmlDeviceGetDeviceHandleFromMigDeviceHandle(self, mig: FakeMigDevice) -> FakeGpu:
        self._check_init()
        if not isinstance(mig, FakeMigDevice):
            raise pynvml.NVMLError_InvalidArgument()
        return mig.board

    # -- readings --------------------------------------------------------------------------------------

    def nvmlDeviceGetTotalEnergyConsumption(self, gpu: FakeGpu) -> int:
        self._use(gpu, "energy")
        elapsed = self.clock() - self.started
        start_mj = gpu.counter_start_mj
        if gpu.counter_reset_after_s is not None and elapsed >= gpu.counter_reset_after_s:
            start_mj, elapsed = 0, elapsed - gpu.counter_reset_after_s
        steps = math.floor(elapsed / gpu.counter_update_s)
        return start_mj + round(self._energy_j(gpu, steps * gpu.counter_update_s) * 1000)

    def nvmlDeviceGetPowerUsage(self, gpu: FakeGpu) -> int:
        self._use(gpu, "power")
        return round(self._power_w(gpu, self.clock() - self.started) * 1000)

    def nvmlDeviceGetUtilizationRates(self, gpu: FakeGpu) -> SimpleNamespace:
        self._use(gpu, "utilization")
        return SimpleNamespace(gpu=gpu.util_pct, memory=gpu.util_pct // 2)

    def nvmlDeviceGetMemoryInfo(self, gpu: FakeGpu) -> SimpleNamespace:
        self._use(gpu, "memory")
        used = int(gpu.mem_used_mb * 2**20)
        return SimpleNamespace(total=80 * 2**30, used=used, free=80 * 2**30 - used)

    def nvmlDeviceGetClockInfo(self, gpu: FakeGpu, clock_type: int) -> int:
        self._use(gpu, "clock")
        if clock_type != pynvml.NVML_CLOCK_SM:
            raise pynvml.NVMLError_InvalidArgument()
        return gpu.sm_clock_mhz

    def nvmlDeviceGetTemperatureV(self, gpu: FakeGpu, sensor: int) -> int:
        if "temperature_v" in gpu.unsupported:  # drivers before the versioned call
            raise pynvml.NVMLError_FunctionNotFound()
        return self.nvmlDeviceGetTemperature(gpu, sensor)

    def nvmlDeviceGetTemperature(self, gpu: FakeGpu, sensor: int) -> int:
        self._use(gpu, "temperature")
        if sensor != pynvml.NVML_TEMPERATURE_GPU:
            raise pynvml.NVMLError_InvalidArgument()
        return gpu.temp_c

    # -- helpers ---------------------------------------------------------------------------------------

    def _check_init(self) -> None:
        if self.started is None:
            raise pynvml.NVMLError_Uninitialized()

    def _use(self, gpu: FakeGpu, metric: str) -> None:
        self._check_init()
        if isinstance(gpu, FakeMigDevice):  # a slice's readings are its board's: NVML has none per slice
            raise pynvml.NVMLError_NotSupported()
        gpu.calls[metric] = gpu.calls.get(metric, 0) + 1
        if metric in gpu.unsupported:
            raise pynvml.NVMLError_NotSupported()

    @staticmethod
    def _power_w(gpu: FakeGpu, t: float) -> float:
        return gpu.power_w(t) if callable(gpu.power_w) else float(gpu.power_w)

    @classmethod
    def _energy_j(cls, gpu: FakeGpu, seconds: float) -> float:
        """Energy drawn over the first ``seconds`` since init (midpoint rule in 1 ms steps for a profile)."""
        if not callable(gpu.power_w):
            return float(gpu.power_w) * seconds
        steps = max(1, round(seconds / 0.001))
        dt = seconds / steps
        return sum(cls._power_w(gpu, (i + 0.5) * dt) for i in range(steps)) * dt
