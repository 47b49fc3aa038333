"""The GPU energy pass on the fake NVML: counter deltas, sampling fallback, cross-check, failures reported once."""

from __future__ import annotations

import sys

import pynvml
import pytest

from bench import metrics
from bench.measure import energy, nvml
from bench.measure.energy import FIELDS, EnergyUnavailableWarning, measure_energy, trapezoid_j
from bench.results import COLUMNS, Record
from bench.spec import MeasureSpec
from tests.fakes.nvml import FakeGpu, FakeNvml

GPU_FIELDS = ("gpu_util_pct", "gpu_mem_used_mb", "sm_clock_mhz", "gpu_temp_c")


@pytest.fixture(autouse=True)
def _fresh_reports():
    energy._reported.clear()
    yield
    energy._reported.clear()


class FakeClock:
    """Seconds that advance only when the fake model runs: windows are exact and nothing sleeps."""

    def __init__(self, step_ms: int = 10):
        self.ms = 0
        self.step_ms = step_ms
        self.calls = 0

    def __call__(self) -> float:
        return self.ms / 1000.0

    def call(self) -> None:
        self.ms += self.step_ms
        self.calls += 1


def run(gpus, clock=None, device="cuda:0", batch_size=8, **spec):
    clock = clock or FakeClock()
    fake = FakeNvml(gpus, clock=clock)
    with nvml.use_backend(fake):
        return measure_energy(
            clock.call, device, batch_size, MeasureSpec(**{"energy_min_s": 0.2, **spec}), clock=clock,
            sample_interval_s=0.001,
        )  # fmt: skip


# ----------------------------------------------------------------------------------------------- happy paths


def test_counter_energy_and_side_readings():
    clock = FakeClock()
    result = run([FakeGpu(power_w=150.0, counter_update_s=0.001)], clock=clock)
    info = result.pop("info")
    assert set(result) == set(FIELDS)
    assert result["energy_source"] == "nvml-counter"
    assert clock.calls == info["energy_calls"] == 20
    assert result["energy_window_s"] == pytest.approx(0.2)
    assert info["energy_total_j"] == pytest.approx(150.0 * 0.2, rel=0.02)
    assert result["energy_j_per_batch"] == pytest.approx(info["energy_total_j"] / 20)
    assert result["energy_j_per_item"] == pytest.approx(result["energy_j_per_batch"] / 8)
    assert result["power_w_avg"] == pytest.approx(150.0, rel=0.02)
    assert result["power_w_peak"] == 150.0
    assert (result["gpu_util_pct"], result["gpu_mem_used_mb"]) == (87, pytest.approx(1234.0))
    assert (result["sm_clock_mhz"], result["gpu_temp_c"]) == (1410, 61)
    # cross-check: power integrated over the same window agrees with the counter
    assert info["energy_sampled_j"] == pytest.approx(30.0)
    assert abs(info["energy_counter_vs_sampling_pct"]) < 5


def test_metric_labels_say_which_side_readings_are_peaks():
    """gpu_mem_used_mb and gpu_temp_c are the highest reading of the window (docs/energy.md); the metric table,
    which labels them in reports and history, called them means."""
    labels = {m.name: m.label for m in metrics.recorded()}
    assert labels["gpu_mem_used_mb"].startswith("highest") and labels["gpu_temp_c"].startswith("highest")
    assert labels["gpu_util_pct"].startswith("mean") and labels["sm_clock_mhz"].startswith("mean")


def test_memory_columns_are_labelled_in_the_unit_they_are_measured_in():
    """Every *_mb column is bytes / 2**20 (the memory pass, NVML's memory info): MiB, which the table called MB."""
    assert {m.name: m.unit for m in metrics.recorded() if m.name.endswith("_mb")} == {
        name: "MiB" for name in ("peak_rss_mb", "cuda_max_allocated_mb", "cuda_weights_mb", "gpu_mem_used_mb")
    }


def test_counter_follows_a_power_step():
    def power(t: float) -> float:
        return 100.0 if t < 0.1 else 300.0

    result = run([FakeGpu(power_w=power, counter_update_s=0.01)])
    assert result["info"]["energy_total_j"] == pytest.approx(100 * 0.1 + 300 * 0.1)
    assert result["power_w_avg"] == pytest.approx(200.0)
    assert result["power_w_peak"] == 300.0


def test_counter_granularity_is_bounded_by_the_window():
    """A coarse counter (100 ms steps) over a short window is off by at most one step."""
    result = run([FakeGpu(power_w=200.0, counter_update_s=0.1)], energy_min_s=0.35)
    window = result["energy_window_s"]
    assert abs(result["info"]["energy_total_j"] - 200.0 * window) <= 200.0 * 0.1 + 1e-9


def test_pre_volta_falls_back_to_power_sampling():
    gpu = FakeGpu(power_w=90.0, unsupported=frozenset({"energy"}))
    result = run([gpu])
    info = result.pop("info")
    assert result["energy_source"] == "nvml-power-sampling"
    assert info["energy_total_j"] == pytest.approx(90.0 * 0.2)
    assert result["power_w_avg"] == pytest.approx(90.0)
    assert "energy_counter_vs_sampling_pct" not in info
    assert gpu.calls["energy"] == 1  # probed once, never read in the window


@pytest.mark.parametrize("energy", [True, False], ids=["counter", "no-counter"])
def test_a_board_that_reads_nothing_is_no_measurement_not_zero_joules(energy):
    """A board's counter that does not move and its power at 0 W throughout: no reading (was: a measured 0 J)."""
    gpu = FakeGpu(power_w=0.0, unsupported=frozenset() if energy else frozenset({"energy"}))
    with pytest.warns(EnergyUnavailableWarning):
        result = run([gpu])
    counter = " and no moving energy counter" if energy else ""
    assert result["energy_source"] == f"unavailable: NVML reported 0 W throughout the window{counter}"
    assert result["energy_j_per_item"] is None and result["power_w_avg"] is None


def test_a_counter_that_does_not_move_in_the_window_is_no_reading_and_the_power_samples_are_used():
    """Was: a counter that did not advance in the window (updated less often than the window lasts, or frozen)
    gave a measured 0 J, labelled nvml-counter, beside power samples of 120 W."""
    result = run([FakeGpu(power_w=120.0, counter_update_s=60.0)])
    assert result["energy_source"] == "nvml-power-sampling"
    assert result["power_w_avg"] == pytest.approx(120.0) and result["energy_j_per_item"] > 0
    assert result["info"]["energy_note"] == "NVML energy counter did not move in the window; integrated power samples"
    with pytest.warns(EnergyUnavailableWarning):
        result = run([FakeGpu(counter_update_s=60.0, unsupported=frozenset({"power"}))])
    assert result["energy_source"] == "unavailable: NVML energy counter did not move and power is not supported"
    assert result["energy_j_per_item"] is None


def test_counter_without_power_readings():
    result = run([FakeGpu(power_w=50.0, unsupported=frozenset({"power"}))])
    assert result["energy_source"] == "nvml-counter"
    assert result["power_w_peak"] is None
    assert "energy_sampled_j" not in result["info"]
    assert result["power_w_avg"] == pytest.approx(50.0, rel=0.15)


def test_counter_going_backwards_uses_sampling():
    result = run([FakeGpu(power_w=120.0, counter_reset_after_s=0.1)])
    assert result["energy_source"] == "nvml-power-sampling"
    assert "went backwards" in result["info"]["energy_note"]
    assert result["power_w_avg"] == pytest.approx(120.0)


def test_counter_backwards_and_no_power():
    gpu = FakeGpu(counter_reset_after_s=0.1, unsupported=frozenset({"power"}))
    with pytest.warns(EnergyUnavailableWarning):
        result = run([gpu])
    assert result["energy_source"] == "unavailable: NVML energy counter went backwards and power is not supported"
    assert result["energy_j_per_item"] is None
    assert "went backwards" in result["info"]["energy_note"]


def test_side_readings_unsupported_are_none_not_zero():
    gpu = FakeGpu(unsupported=frozenset({"utilization", "memory", "clock", "temperature"}))
    result = run([gpu])
    assert result["energy_source"] == "nvml-counter"
    assert all(result[name] is None for name in GPU_FIELDS)


def test_side_reading_failing_otherwise_is_dropped(monkeypatch):
    fake = FakeNvml([FakeGpu()])
    monkeypatch.setattr(fake, "nvmlDeviceGetUtilizationRates", _raiser(pynvml.NVMLError_NoPermission))
    readers = _readers(fake)
    assert "util_pct" not in readers and "energy_mj" in readers


def test_old_driver_without_versioned_temperature():
    result = run([FakeGpu(temp_c=70, unsupported=frozenset({"temperature_v"}))])
    assert result["gpu_temp_c"] == 70


def test_module_without_versioned_temperature(monkeypatch):
    fake = FakeNvml([FakeGpu(temp_c=55)])
    monkeypatch.setattr(FakeNvml, "nvmlDeviceGetTemperatureV", None)
    monkeypatch.delattr(FakeNvml, "nvmlDeviceGetTemperatureV")
    assert _readers(fake)["temp_c"]() == 55


def test_result_fits_the_record():
    result = run([FakeGpu()])
    info = result.pop("info")
    assert set(result) <= set(COLUMNS)
    record = Record(
        run_id="r", suite="s", case_id="c", model="m", compression="fp32", engine="eager", device="cuda:0",
        threads=None, batch_size=8, status="ok", latency_p50_ms=1.0, extra=info, **result,
    )  # fmt: skip
    assert record.energy_source == "nvml-counter"


def test_real_sampler_thread_and_clock():
    """The default clock and thread: a few real milliseconds, constant power, the counter agrees with sampling."""
    fake = FakeNvml([FakeGpu(power_w=250.0, counter_update_s=0.002)])
    with nvml.use_backend(fake):
        result = measure_energy(lambda: None, "cuda:0", 1, MeasureSpec(energy_min_s=0.05), sample_interval_s=0.002)
    assert result["energy_source"] == "nvml-counter"
    assert result["info"]["energy_samples"] >= 3
    assert result["info"]["energy_sampled_j"] == pytest.approx(250.0 * result["energy_window_s"], rel=1e-6)
    assert abs(result["info"]["energy_counter_vs_sampling_pct"]) < 20


# ----------------------------------------------------------------------------------------------- failures


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (pynvml.NVMLError_LibraryNotFound(), "NVML library not found (no NVIDIA driver installed)"),
        (pynvml.NVMLError_DriverNotLoaded(), "NVIDIA driver not loaded"),
        (pynvml.NVMLError_NoPermission(), "NVML permission denied"),
        (RuntimeError("boom"), "NVML init failed (RuntimeError: boom)"),
    ],
)
def test_init_failure_is_reported_once_and_never_raises(error, reason):
    fake = FakeNvml(init_error=error)
    clock = FakeClock()
    with nvml.use_backend(fake):
        assert nvml.driver_version() is None
        with pytest.warns(EnergyUnavailableWarning, match="GPU energy not measured"):
            first = measure_energy(clock.call, "cuda:0", 1, MeasureSpec())
        second = measure_energy(clock.call, "cuda:1", 1, MeasureSpec())  # no second warning (errors here)
    assert first["energy_source"] == second["energy_source"] == f"unavailable: {reason}"
    assert clock.calls == 0  # nothing to read: the model is not run
    assert fake.init_calls == 1
    assert all(first[name] is None for name in FIELDS if name != "energy_source")


def test_pynvml_missing(monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", None)
    assert nvml._load.__wrapped__() == (None, "pynvml (nvidia-ml-py) not installed")


def test_real_library_absent_here_is_not_fatal():
    module, reason = nvml.backend()
    if module is not None:
        pytest.skip("this machine has NVML")
    assert reason
    assert nvml.driver_version() is None


def test_no_such_device():
    with pytest.warns(EnergyUnavailableWarning):
        result = run([FakeGpu()], device="cuda:3")
    assert result["energy_source"].startswith("unavailable: NVML has no device for cuda:3")


def test_neither_energy_nor_power():
    with pytest.warns(EnergyUnavailableWarning):
        result = run([FakeGpu(unsupported=frozenset({"energy", "power"}))])
    assert result["energy_source"] == "unavailable: NVML reports neither energy nor power for this GPU"


def test_probe_error_other_than_unsupported(monkeypatch):
    fake = FakeNvml([FakeGpu()], clock=FakeClock())
    monkeypatch.setattr(fake, "nvmlDeviceGetPowerUsage", _raiser(pynvml.NVMLError_NoPermission))
    with nvml.use_backend(fake), pytest.warns(EnergyUnavailableWarning):
        result = measure_energy(lambda: None, "cuda:0", 1, MeasureSpec())
    assert result["energy_source"] == "unavailable: NVML error (Insufficient Permissions)"


def test_gpu_lost_during_the_window():
    clock = FakeClock()
    fake = FakeNvml([FakeGpu()], clock=clock)

    def call() -> None:
        clock.call()
        if clock.calls == 5:
            fake.nvmlDeviceGetTotalEnergyConsumption = _raiser(pynvml.NVMLError_GpuIsLost)

    with nvml.use_backend(fake), pytest.warns(EnergyUnavailableWarning):
        result = measure_energy(call, "cuda:0", 1, MeasureSpec(energy_min_s=0.1), clock=clock, sample_interval_s=None)
    assert result["energy_source"] == "unavailable: NVML error during the energy window (GPU is lost)"


def test_sampler_thread_error_is_reported():
    clock = FakeClock()
    fake = FakeNvml([FakeGpu()], clock=clock)
    original = fake.nvmlDeviceGetPowerUsage
    failing = {"on": False}

    def power(handle):
        if failing["on"]:
            raise pynvml.NVMLError_Unknown()
        return original(handle)

    fake.nvmlDeviceGetPowerUsage = power

    def call() -> None:
        clock.call()
        failing["on"] = clock.calls < 3  # fails while the thread samples, recovers for the last read
        if clock.calls == 1:
            import time

            time.sleep(0.05)

    with nvml.use_backend(fake), pytest.warns(EnergyUnavailableWarning):
        result = measure_energy(call, "cuda:0", 1, MeasureSpec(energy_min_s=0.05), clock=clock, sample_interval_s=0.001)
    assert result["energy_source"] == "unavailable: NVML error during the energy window (Unknown Error)"


# ----------------------------------------------------------------------------------------------- MIG

MIG_REASON = (
    "unavailable: cuda:0 is a MIG slice and NVML reads the whole board's energy and power (every slice's work); "
    "the board's figures are in extra.energy_board_*"
)


def test_a_mig_slice_found_by_its_boards_bus_id_gets_the_boards_energy_only_as_the_boards(monkeypatch):
    """torch's PCI bus id of a MIG slice is its board's, whose counter holds every slice's work: it was recorded as
    the slice's own energy_j_per_item (and so priced by the cost model)."""
    monkeypatch.setattr(nvml, "_torch_pci_bus_id", lambda index: "00000000:3b:00.0")
    board = FakeGpu(power_w=150.0, counter_update_s=0.001, mig_mode=pynvml.NVML_DEVICE_MIG_ENABLE)
    with pytest.warns(EnergyUnavailableWarning, match="cuda:0 is a MIG slice and NVML reads the whole board"):
        result = run([board])
    info = result.pop("info")
    assert set(result) == set(FIELDS) and result["energy_source"] == MIG_REASON
    assert all(result[name] is None for name in energy.BOARD_FIELDS)
    assert (result["sm_clock_mhz"], result["gpu_temp_c"]) == (1410, 61)  # one clock, one die: the slice's too
    # what was measured is kept, named as the board's
    assert info["energy_board_source"] == "nvml-counter" and "energy_total_j" not in info
    assert info["energy_board_total_j"] == pytest.approx(150.0 * 0.2, rel=0.02)
    assert info["energy_board_power_w_avg"] == pytest.approx(150.0, rel=0.02)
    assert info["energy_board_j_per_item"] == pytest.approx(info["energy_board_total_j"] / (20 * 8))
    assert info["energy_board_gpu_mem_used_mb"] == pytest.approx(1234.0)


def test_a_mig_uuid_is_read_through_its_board(monkeypatch):
    """A ``MIG-`` UUID gives a MIG device handle, which has no energy or power readings of its own: the pass said
    "NVML reports neither energy nor power for this GPU"."""
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "MIG-7a1")
    board = FakeGpu(power_w=90.0, counter_update_s=0.001, mig_mode=1, mig_uuids=("MIG-7a1",))
    with pytest.warns(EnergyUnavailableWarning, match="cuda:0 is a MIG slice"):
        result = run([board])
    assert result["energy_source"] == MIG_REASON and result["energy_j_per_item"] is None
    assert result["info"]["energy_board_power_w_avg"] == pytest.approx(90.0, rel=0.02)


@pytest.mark.parametrize("mode", [0, None])  # MIG off; no MIG at all (pre-Ampere: NotSupported)
def test_a_board_without_mig_slices_is_measured_as_the_case_s(mode):
    result = run([FakeGpu(power_w=150.0, counter_update_s=0.001, mig_mode=mode)])
    assert result["energy_source"] == "nvml-counter" and result["power_w_avg"] == pytest.approx(150.0, rel=0.02)


# ----------------------------------------------------------------------------------------------- device mapping


def three_gpus() -> list[FakeGpu]:
    return [FakeGpu(pci_bus_id=f"00000000:{bus:02X}:00.0", uuid=f"GPU-{bus}") for bus in (0x1A, 0x3B, 0x5E)]


def test_cuda_index_is_nvml_index_by_default(monkeypatch):
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    fake = FakeNvml(three_gpus())
    with nvml.use_backend(fake):
        assert nvml.device_handle(fake, "cuda:2") is fake.gpus[2]
        assert nvml.device_handle(fake, "cuda") is fake.gpus[0]


def test_cuda_visible_devices_indices_and_uuids(monkeypatch):
    fake = FakeNvml(three_gpus())
    with nvml.use_backend(fake):
        monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2, 0")
        assert nvml.device_handle(fake, "cuda:0") is fake.gpus[2]
        assert nvml.device_handle(fake, "cuda:1") is fake.gpus[0]
        monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "GPU-59,GPU-26")
        assert nvml.device_handle(fake, "cuda:1") is fake.gpus[0]
        monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "weird")
        assert nvml.device_handle(fake, "cuda:0") is fake.gpus[0]


def test_pci_bus_id_from_torch_wins(monkeypatch):
    fake = FakeNvml(three_gpus())
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0")
    with nvml.use_backend(fake):
        monkeypatch.setattr(nvml, "_torch_pci_bus_id", lambda index: "00000000:5e:00.0")
        assert nvml.device_handle(fake, "cuda:0") is fake.gpus[2]
        monkeypatch.setattr(nvml, "_torch_pci_bus_id", lambda index: "00000000:99:00.0")  # unknown: fall back
        assert nvml.device_handle(fake, "cuda:0") is fake.gpus[0]


def test_torch_pci_bus_id(monkeypatch):
    import torch

    class Props:
        pci_domain_id, pci_bus_id, pci_device_id = 0, 0x3B, 0

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_properties", lambda index: Props())
    assert nvml._torch_pci_bus_id(0) == "00000000:3b:00.0"
    monkeypatch.setattr(torch.cuda, "get_device_properties", lambda index: object())
    assert nvml._torch_pci_bus_id(0) is None
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert nvml._torch_pci_bus_id(0) is None


def test_driver_version_through_the_backend():
    with nvml.use_backend(FakeNvml(driver="535.1")):
        assert nvml.driver_version() == "535.1"


def test_driver_version_bytes(monkeypatch):
    fake = FakeNvml()
    monkeypatch.setattr(fake, "nvmlSystemGetDriverVersion", lambda: b"470.2")
    with nvml.use_backend(fake):
        assert nvml.driver_version() == "470.2"


# ----------------------------------------------------------------------------------------------- pieces


def test_trapezoid():
    assert trapezoid_j([0.0, 1.0, 3.0], [100.0, 200.0, 200.0]) == pytest.approx(150.0 + 400.0)
    assert trapezoid_j([5.0], [100.0]) == 0.0


def test_fake_rejects_unknown_names_and_wrong_arguments():
    fake = FakeNvml([FakeGpu()])
    with pytest.raises(AttributeError):
        fake.nvmlDeviceGetSomethingElse  # noqa: B018
    with pytest.raises(pynvml.NVMLError_Uninitialized):
        fake.nvmlDeviceGetCount()
    fake.nvmlInit()
    assert fake.nvmlDeviceGetCount() == 1
    gpu = fake.nvmlDeviceGetHandleByIndex(0)
    with pytest.raises(pynvml.NVMLError_InvalidArgument):
        fake.nvmlDeviceGetClockInfo(gpu, pynvml.NVML_CLOCK_MEM)
    with pytest.raises(pynvml.NVMLError_InvalidArgument):
        fake.nvmlDeviceGetTemperature(gpu, 99)
    with pytest.raises(pynvml.NVMLError_NotFound):
        fake.nvmlDeviceGetHandleByUUID("GPU-nope")
    fake.nvmlShutdown()
    with pytest.raises(pynvml.NVMLError_Uninitialized):
        fake.nvmlDeviceGetPowerUsage(gpu)


def _raiser(cls):
    def fail(*args, **kwargs):
        raise cls()

    return fail


def _readers(fake: FakeNvml):
    fake.nvmlInit()
    return energy._gpu_readers(fake, fake.nvmlDeviceGetHandleByIndex(0))
