"""The runner, driven directly with a stand-in timer: records, skips, failures, caching, restored state."""

from __future__ import annotations

import contextlib
import dataclasses
import threading
import time

import pytest
import torch

from bench.errors import NotApplicable
from bench.hardware import cpu_cores
from bench.measure.timing import UnstableWarning
from bench.results import RunWriter, load, load_samples
from bench.runner import PHASES, PassFailedWarning, Session
from bench.spec import Case, MeasureSpec, MethodSpec, Placement, freeze_params
from tests.fakes import models as fake_models

# TINY's 50 ms max_time_s stops a noisy case before its precision: the runner's tests are not about that
pytestmark = pytest.mark.filterwarnings("ignore::bench.measure.timing.ImpreciseWarning")

# Tiny windows are noisy: the unstable threshold is lifted here and tested on its own with fixed samples.
TINY = MeasureSpec(
    warmup_s=0.0, min_time_s=0.01, min_rounds=5, memory_s=0.01, energy_min_s=0.01, unstable_iqr_ratio=1e9
)


def time_calls(call, rounds, before_round=None):
    samples = []
    for _ in range(rounds):
        if before_round is not None and before_round() is False:
            break
        start = time.perf_counter()
        call()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def case(model="dlrm-tiny", compression="fp32", device="cpu", threads=1, batch=4, factory=None, **params):
    spec = MethodSpec(model, freeze_params(params), factory=factory)
    return Case("s", spec, MethodSpec(compression), MethodSpec("eager"), Placement(device, threads), batch, TINY)


@pytest.fixture
def session(tmp_path):
    writer = RunWriter(tmp_path, "run", {})
    yield Session(writer, {"cpu_model": "test-cpu", "torch_version": torch.__version__})
    writer.close("finished")


def test_ok_record_has_latency_size_memory_and_environment(session, tmp_path):
    record = session.run_case(case(), time_calls)
    assert record.status == "ok" and record.rounds >= 5
    assert 0 < record.latency_min_ms <= record.latency_p50_ms <= record.latency_p99_ms
    assert record.model_size_bytes > 0 and record.params == record.nonzero_params > 0
    assert record.peak_rss_mb > 0 and record.cuda_max_allocated_mb is None
    assert record.cpu_model == "test-cpu" and record.timestamp
    assert record.measure_time_s > 0 and record.setup_time_s >= 0
    # where the case's measuring time went: the timed calls are the samples themselves, the rest of the latency
    # window is the first call (where torch.compile would compile) and warm-up; every phase together is
    # measure_time_s
    phases = record.extra["phase_time_s"]
    samples = load_samples("run", tmp_path)["s::dlrm-tiny[fp32-cpu-1t-bs4]"]
    assert phases["timed calls"] == pytest.approx(sum(samples) / 1000, abs=1e-3)
    assert phases["first calls"] == pytest.approx(record.extra["first_call_s"], abs=1e-3)
    assert phases["warm-up"] > 0 and {"memory", "accuracy"} <= set(phases) <= set(PHASES)
    assert sum(phases.values()) == pytest.approx(record.measure_time_s, abs=1e-3)
    assert load("run", tmp_path).loc[0, "case_id"] == "dlrm-tiny[fp32-cpu-1t-bs4]"
    assert len(load_samples("run", tmp_path)["s::dlrm-tiny[fp32-cpu-1t-bs4]"]) == record.rounds


def test_memory_is_sampled_over_the_warm_up_calls_without_calls_of_its_own(session, monkeypatch):
    import bench.measure.memory as memory

    windows = []
    real = memory.measure_memory

    def spy(call, device, seconds, **kwargs):
        result = real(call, device, seconds, **kwargs)
        windows.append(result)
        return result

    monkeypatch.setattr(memory, "measure_memory", spy)
    spec = dataclasses.replace(TINY, warmup_s=0.05, memory_s=0.01, precision=None)
    record = session.run_case(dataclasses.replace(case(), measure=spec), time_calls)
    # one memory window, which was the warm-up after its first call: warm-up calls = 1 + the window's calls
    assert len(windows) == 1 and windows[0].window_s >= 0.05 - 0.02
    assert record.extra["memory_calls"] == windows[0].calls >= 1
    assert record.peak_rss_mb > 0 and record.pass_errors is None
    assert record.extra["phase_time_s"]["memory"] == pytest.approx(windows[0].window_s, abs=0.02)


def test_a_failing_memory_pass_leaves_the_warm_up_and_latency_whole(session, monkeypatch):
    import bench.measure.memory as memory

    def broken(*args, **kwargs):
        raise OSError("statm unreadable")

    monkeypatch.setattr(memory, "measure_memory", broken)
    with pytest.warns(PassFailedWarning, match="the memory pass failed"):
        record = session.run_case(case(), time_calls)
    assert record.status == "ok" and record.rounds >= 5 and record.peak_rss_mb is None
    assert record.pass_errors == "memory: OSError: statm unreadable"


def test_a_load_pass_stopped_part_way_keeps_its_figures_and_warns(session, monkeypatch):
    from bench.measure import PassResult
    from bench.measure.load import LoadSpec

    def partial(*args, **kwargs):  # SingleStream measured, then the Offline run raised
        return PassResult("load", columns={"single_stream_p90_ms": 0.5}, error="RuntimeError: model broke")

    monkeypatch.setattr("bench.measure.load.load_pass", partial)
    with pytest.warns(PassFailedWarning, match="the load pass failed .*keeps what it measured before"):
        record = session.run_case(dataclasses.replace(case(), load=LoadSpec()), time_calls)
    assert record.status == "ok" and record.pass_errors == "load: RuntimeError: model broke"
    assert record.single_stream_p90_ms == 0.5


def test_bf16_and_fp16_are_smaller_than_fp32(session):
    sizes = {c: session.run_case(case(compression=c), time_calls).model_size_bytes for c in ("fp32", "bf16", "fp16")}
    assert sizes["bf16"] < sizes["fp32"] and sizes["fp16"] < sizes["fp32"]
    assert sizes["bf16"] == pytest.approx(sizes["fp32"] / 2, rel=0.1)


def test_thread_count_is_restored(session):
    before = torch.get_num_threads()
    target = 1 if before != 1 else min(2, cpu_cores())
    session.run_case(case(threads=target), time_calls)
    assert torch.get_num_threads() == before


def test_model_is_built_once_across_threads_and_batch_sizes(session):
    fake_models.BUILDS["count"] = 0
    for threads in (1, min(2, cpu_cores())):
        for batch in (1, 3):
            session.run_case(case("m", factory="tests.fakes.models:build", threads=threads, batch=batch), time_calls)
    assert fake_models.BUILDS["count"] == 1


def test_threads_above_cores_are_skipped_with_reason(session, tmp_path):
    with pytest.raises(NotApplicable, match=rf"threads={cpu_cores() + 1} exceeds the {cpu_cores()} CPU cores"):
        session.run_case(case(threads=cpu_cores() + 1), time_calls)
    row = load("run", tmp_path).iloc[0]
    assert row["status"] == "skipped" and "exceeds" in row["error"]


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA; the skip path needs one without")
def test_absent_cuda_is_skipped_with_reason(session, tmp_path):
    with pytest.raises(NotApplicable, match=r"cuda:0 not available"):
        session.run_case(case(device="cuda:0", threads=None), time_calls)
    assert load("run", tmp_path).iloc[0]["error"].startswith("cuda:0 not available")


def test_failing_model_is_recorded_and_the_next_case_still_runs(session, tmp_path):
    with pytest.raises(RuntimeError, match="cannot take batch 2"):
        session.run_case(case("m", factory="tests.fakes.models:build", batch=2, fail_at_batch=2), time_calls)
    session.run_case(case("m", factory="tests.fakes.models:build", batch=3, fail_at_batch=2), time_calls)
    frame = load("run", tmp_path)
    assert list(frame["status"]) == ["failed", "ok"]
    assert frame.loc[0, "error"] == "RuntimeError: model cannot take batch 2"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_case_reports_gpu_memory(session):
    record = session.run_case(case(device="cuda:0", threads=None), time_calls)
    assert record.cuda_max_allocated_mb > 0 and record.gpu_name


def test_noisy_latency_is_flagged_unstable_with_a_warning(session):
    noisy = case()
    noisy = Case(
        noisy.suite,
        noisy.model,
        noisy.compression,
        noisy.engine,
        noisy.placement,
        4,
        MeasureSpec(warmup_s=0.0, min_time_s=0.01, min_rounds=5, memory_s=0.01, energy_min_s=0.01, precision=None),
    )

    def fixed_samples(call, rounds, before_round=None):
        call()
        return [1.0, 1.5, 0.7, 1.3, 0.8, 1.2]  # IQR/median ~ 40%

    with pytest.warns(UnstableWarning, match=r"IQR/median = \d+% > 10%"):
        record = session.run_case(noisy, fixed_samples)
    assert record.unstable is True and record.rounds == 6


def test_building_a_model_does_not_change_the_global_rng(session):
    torch.manual_seed(1234)
    expected = torch.rand(3)
    torch.manual_seed(1234)
    session.run_case(case("m", factory="tests.fakes.models:build_seeding"), time_calls)
    assert torch.equal(torch.rand(3), expected)


@pytest.fixture
def four_fake_gpus(monkeypatch):
    """torch sees four CUDA devices; forking or restoring a GPU's RNG state is recorded instead of done."""
    touched = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 4)
    monkeypatch.setattr(torch.cuda, "get_rng_state", lambda device="cuda": touched.append(("get", device)))
    monkeypatch.setattr(torch.cuda, "set_rng_state", lambda state, device="cuda": touched.append(("set", device)))
    return touched


def test_a_cpu_case_forks_no_gpu_rng(session, four_fake_gpus):
    session.run_case(case("m", factory="tests.fakes.models:build_seeding"), time_calls)
    assert four_fake_gpus == []  # was every visible GPU's, twice: CUDA initialised on GPUs the case never uses


def test_a_cuda_case_forks_the_rng_of_its_own_gpu_only(session, four_fake_gpus):
    from bench.runner import forked_rng

    session.bundle(case("m", device="cuda:2", threads=None, factory="tests.fakes.models:build_seeding"))
    assert four_fake_gpus == [("get", 2), ("set", 2)]
    four_fake_gpus.clear()
    with forked_rng("cuda"):  # no index: torch's default device, cuda:0
        pass
    assert four_fake_gpus == [("get", 0), ("set", 0)]


def test_a_case_seeds_the_rng_of_no_gpu_but_its_own(session, four_fake_gpus, monkeypatch):
    from bench.runner import seed

    seeded, current = [], [None]

    @contextlib.contextmanager
    def on_device(index):
        current.append(index)
        yield
        current.pop()

    monkeypatch.setattr(torch.cuda, "manual_seed_all", lambda value: seeded.append(("every GPU", value)))
    monkeypatch.setattr(torch.cuda, "manual_seed", lambda value: seeded.append((current[-1], value)))
    monkeypatch.setattr(torch.cuda, "device", on_device)
    session.run_case(case("m", factory="tests.fakes.models:build"), time_calls)
    assert seeded == []  # torch.manual_seed reseeded every GPU, and the fork restores the case's own only
    seed("cuda:2", 7)
    assert seeded == [(2, 7)]


@pytest.fixture
def current_gpu(four_fake_gpus, monkeypatch):
    """torch's current CUDA device, as ``torch.cuda.device(K)`` sets it for the thread that enters it (each thread
    starts on device 0): where the libraries that allocate on "the current device" put their tensors (torchao's
    fallback integer matmul returns ``.to("cuda")``, a user's ``torch.zeros(n, device="cuda")``)."""
    local = threading.local()

    @contextlib.contextmanager
    def on_device(index):
        stack = local.__dict__.setdefault("stack", [0])
        stack.append(index)
        try:
            yield
        finally:
            stack.pop()

    monkeypatch.setattr(torch.cuda, "device", on_device)
    monkeypatch.setattr(torch.cuda, "manual_seed", lambda value: None)
    return lambda: local.__dict__.get("stack", [0])[-1]


def test_a_cuda_case_runs_with_its_own_gpu_as_the_current_device(session, current_gpu, monkeypatch):
    """A cuda:2 case ran with device 0 current: what a library put on "the current device" landed on GPU 0 beside
    the case's tensors on GPU 2 (dlrm-ctr with int8-dynamic's torchao backend on cuda:1: its 13-feature layer's
    fallback matmul came back on cuda:0, 'Expected all tensors to be on the same device')."""
    import bench.measure.load

    cuda2 = case("m", device="cuda:2", threads=None, factory="tests.fakes.models:build")
    with session._in_case(cuda2):
        assert current_gpu() == 2
    assert current_gpu() == 0
    with session._in_case(case("m", factory="tests.fakes.models:build")):
        assert current_gpu() == 0  # a CPU case touches no GPU
    seen = []

    def load_pass(call_for, load, batch, log_dir, thread_context, case_id):  # LoadGen's worker: a thread of its own
        def worker():
            with thread_context():
                seen.append((current_gpu(), torch.is_inference_mode_enabled()))

        thread = threading.Thread(target=worker)
        thread.start()
        thread.join()

    monkeypatch.setattr(bench.measure.load, "load_pass", load_pass)
    session._load(dataclasses.replace(cuda2, load=bench.measure.load.LoadSpec()), None, None, None)
    assert seen == [(2, True)]


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # torch.compile's own imports, not ours
def test_compile_time_is_charged_to_the_case_that_compiled_only(session):
    pytest.importorskip("torch._inductor")
    first = Case("s", MethodSpec("dlrm-tiny"), MethodSpec("fp32"), MethodSpec("compile"), Placement("cpu", 1), 2, TINY)
    second = Case("s", first.model, first.compression, first.engine, first.placement, 4, TINY)
    compiled = session.run_case(first, time_calls)
    reused = session.run_case(second, time_calls)
    assert compiled.compile_time_s > 0
    assert reused.compile_time_s is None
    assert reused.extra["first_call_s"] > 0  # its own recompile for the new shape is visible here


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # torchao's import-time notices
def test_int8_weight_only_is_smaller_than_fp32(session):
    pytest.importorskip("torchao")
    model = dict(model="wide", factory="tests.fakes.models:build", width=512)
    fp32 = session.run_case(case(**model), time_calls)
    int8 = session.run_case(case(compression="int8-weight-only", **model), time_calls)
    assert int8.status == "ok" and int8.compress_backend.endswith("(Int8WeightOnlyConfig)")
    assert int8.model_size_bytes < 0.5 * fp32.model_size_bytes


def test_a_failing_accuracy_pass_keeps_latency_memory_and_energy(session, tmp_path):
    failing = case("m", factory="tests.fakes.models:build_failing_evaluate")
    with pytest.warns(PassFailedWarning, match="the accuracy pass failed"):
        record = session.run_case(failing, time_calls)
    assert record.status == "ok" and record.latency_p50_ms > 0 and record.peak_rss_mb > 0
    assert record.energy_source is not None
    assert record.accuracy is None and record.accuracy_drop is None
    assert record.pass_errors.startswith(
        "accuracy: factory 'tests.fakes.models:build_failing_evaluate': evaluate raised RuntimeError: Expected all "
    )
    assert "\n" not in record.pass_errors
    stored = load("run", tmp_path).iloc[0]
    assert stored["status"] == "ok" and stored["pass_errors"] == record.pass_errors


def test_a_failing_energy_pass_keeps_the_others(session, monkeypatch):
    def broken(*args, **kwargs):
        raise OSError("energy counter unreadable")

    monkeypatch.setattr("bench.measure.energy.measure_energy", broken)
    with pytest.warns(PassFailedWarning, match="energy pass failed"):
        record = session.run_case(case(), time_calls)
    assert record.status == "ok" and record.latency_p50_ms > 0 and record.peak_rss_mb > 0
    assert record.energy_source is None and record.pass_errors == "energy: OSError: energy counter unreadable"


def test_repeats_time_independent_windows_and_record_their_spread(session):
    spec = dataclasses.replace(TINY, repeats=3)
    repeated = dataclasses.replace(case(), measure=spec)
    rewarms: list[int] = []

    def windows(call, rounds, before_round=None):
        samples = []
        for index in range(rounds):
            before_round()
            rewarms.append(index)
            call()
            samples.append(1.0 if index < rounds // 3 else 1.5)  # the first window is a third faster
        return samples

    with pytest.warns(UnstableWarning, match="medians of 3 windows spread 33% > 10%"):
        record = session.run_case(repeated, windows)
    assert record.repeats == 3 and record.rounds % 3 == 0 and record.rounds >= 15
    assert record.latency_between_spread == pytest.approx(0.5 / 1.5) and record.unstable is True
    assert len(rewarms) == record.rounds


def test_repeats_default_on_for_cuda_only():
    assert MeasureSpec().repeats_for("cpu") == 1 and MeasureSpec().repeats_for("cuda:0") == 3
    assert MeasureSpec(repeats=2).repeats_for("cpu") == 2


GiB = 1024**3


def fake_memory(monkeypatch, host=None, gpu=None):
    """The memory probes report ``host`` (MemAvailable) / ``gpu`` bytes free (None: cannot be read); nothing is
    allocated."""
    from bench.hardware import HostMemory

    memory = None if host is None else HostMemory(host, "MemAvailable")
    monkeypatch.setattr("bench.hardware.host_memory_available", lambda: memory)
    monkeypatch.setattr("bench.hardware.gpu_memory_available", lambda device: gpu)


def test_a_batch_beyond_the_free_memory_is_skipped_before_its_inputs_are_built(session, tmp_path, monkeypatch):
    """Within the 8 GiB bound of validation, but not in what this machine has free: a skip saying by how much and
    which key to change, not an OOM kill; the cases before and after it are measured."""
    fake_memory(monkeypatch, host=1 * GiB)
    session.run_case(case(batch=4), time_calls)
    built = []
    monkeypatch.setattr("bench.runner.to_device", lambda *args: built.append(args) or args[0])
    with pytest.raises(NotApplicable) as reason:
        session.run_case(case(batch=1_000_000), time_calls)
    assert not built  # refused before make_inputs
    assert str(reason.value) == (
        "not enough free memory: dlrm-tiny: batch_size 1000000 x 2.8 KiB of inputs and activations per item = "
        "2.7 GiB; 512.0 MiB free to use here (MemAvailable 1.0 GiB, less 10% and at least 512 MiB kept free); "
        "lower batch_sizes"
    )
    monkeypatch.undo()
    session.run_case(case(batch=8), time_calls)
    frame = load("run", tmp_path)
    assert list(frame["status"]) == ["ok", "skipped", "ok"]
    assert frame.loc[1, "error"] == str(reason.value)


def test_the_reserve_is_a_tenth_of_what_is_free_and_at_least_512_mib():
    from bench.hardware import usable_memory

    assert usable_memory(100 * GiB) == 90 * GiB
    assert usable_memory(2 * GiB) == int(1.5 * GiB)
    assert usable_memory(256 * 1024**2) < 0


def test_no_check_without_an_estimate_or_a_reading(monkeypatch):
    from bench.runner import check_memory

    fake_memory(monkeypatch, host=0, gpu=0)
    check_memory(case("m", factory="tests.fakes.models:build", batch=10**9), 10**9, "batch_size", "batch_sizes")
    fake_memory(monkeypatch, host=None, gpu=None)  # not Linux: nothing to compare with
    check_memory(case(batch=10**9), 10**9, "batch_size", "batch_sizes")
    check_memory(case(device="cuda:0", threads=None, batch=10**9), 10**9, "batch_size", "batch_sizes")


def test_a_cuda_case_checks_its_inputs_in_host_memory_and_the_whole_on_the_device(monkeypatch):
    from bench.runner import check_memory

    cuda = case(device="cuda:1", threads=None, batch=100_000)
    fake_memory(monkeypatch, host=64 * GiB, gpu=1 * GiB)
    check_memory(cuda, 100_000, "batch_size 100000", "batch_sizes")  # 277.7 MiB of 512 MiB usable
    fake_memory(monkeypatch, host=64 * GiB, gpu=640 * 1024**2)
    with pytest.raises(NotApplicable) as reason:
        check_memory(cuda, 100_000, "batch_size 100000", "batch_sizes")
    assert str(reason.value) == (
        "not enough free memory: dlrm-tiny: batch_size 100000 x 2.8 KiB of inputs and activations per item = "
        "277.7 MiB; 128.0 MiB free to use on cuda:1 (free and cached 640.0 MiB, less 10% and at least 512 MiB kept "
        "free); lower batch_sizes"
    )
    fake_memory(monkeypatch, host=int(0.6 * GiB), gpu=64 * GiB)  # the host holds only the inputs: 180 B an item
    check_memory(cuda, 100_000, "batch_size 100000", "batch_sizes")
    with pytest.raises(NotApplicable) as reason:
        check_memory(cuda, 1_000_000, "batch_size 1000000", "batch_sizes")
    assert "dlrm-tiny: batch_size 1000000 x 180 B of inputs per item, built in host memory = 171.7 MiB; " in str(
        reason.value
    )


def test_the_memory_probes_read_meminfo_and_the_cuda_allocator(tmp_path, monkeypatch):
    import bench.hardware as hardware

    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:       24683520 kB\nMemFree:        22660000 kB\nMemAvailable:   23717888 kB\n")
    monkeypatch.setattr(hardware, "MEMINFO", str(meminfo))
    monkeypatch.setattr(hardware, "CGROUP", str(tmp_path / "no cgroup"))
    assert hardware.host_memory_available() == (23717888 * 1024, "MemAvailable", None, None)
    meminfo.write_text("MemTotal:       24683520 kB\nMemFree:        22660000 kB\n")  # a kernel before 3.14
    assert hardware.host_memory_available() is None
    monkeypatch.setattr(hardware, "MEMINFO", str(tmp_path / "absent"))  # not Linux
    assert hardware.host_memory_available() is None

    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device: (3 * GiB, 80 * GiB))
    monkeypatch.setattr(torch.cuda, "memory_reserved", lambda device: 2 * GiB)
    monkeypatch.setattr(torch.cuda, "memory_allocated", lambda device: GiB // 2)
    assert hardware.gpu_memory_available("cuda:0") == int(4.5 * GiB)  # free, and what torch's cache holds unused

    def broken(device):
        raise RuntimeError("CUDA driver error")

    monkeypatch.setattr(torch.cuda, "mem_get_info", broken)
    assert hardware.gpu_memory_available("cuda:0") is None


def fake_cgroup(tmp_path, monkeypatch, membership: str, files: dict[str, str], available_kb: int = 64 * 1024**2):
    """A machine with ``available_kb`` of MemAvailable whose process is in the cgroups ``membership`` (the text of
    /proc/self/cgroup), with ``files`` (paths under the cgroup mount: their text) in the hierarchy."""
    import bench.hardware as hardware

    (tmp_path / "meminfo").write_text(f"MemTotal: 67108864 kB\nMemAvailable: {available_kb} kB\n")
    (tmp_path / "cgroup").write_text(membership)
    for name, text in files.items():
        (tmp_path / "sys" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "sys" / name).write_text(text)
    monkeypatch.setattr(hardware, "MEMINFO", str(tmp_path / "meminfo"))
    monkeypatch.setattr(hardware, "CGROUP", str(tmp_path / "cgroup"))
    monkeypatch.setattr(hardware, "CGROUP_ROOT", str(tmp_path / "sys"))


def test_a_cgroup_v2_limit_binds_the_host_memory_up_its_hierarchy(tmp_path, monkeypatch):
    """A container's memory.max below the host's MemAvailable: what is left of it, its inactive page cache counted as
    free; the process's own cgroup has no limit ("max"), its pod's has."""
    from bench.hardware import host_memory_available

    pod = "kubepods/pod1"
    fake_cgroup(
        tmp_path,
        monkeypatch,
        "0::/kubepods/pod1/ctr\n",
        {
            f"{pod}/ctr/memory.max": "max\n",
            f"{pod}/ctr/memory.current": f"{GiB}\n",
            f"{pod}/memory.max": f"{4 * GiB}\n",
            f"{pod}/memory.current": f"{3 * GiB}\n",
            f"{pod}/memory.stat": f"anon {2 * GiB}\nfile {GiB}\nactive_file 0\ninactive_file {GiB}\n",
            "kubepods/memory.max": f"{32 * GiB}\n",
            "kubepods/memory.current": f"{20 * GiB}\n",
        },
    )
    assert host_memory_available() == (2 * GiB, "memory.max", 4 * GiB, 2 * GiB)
    (tmp_path / "sys" / pod / "memory.stat").write_text("inactive_file lots\n")  # the whole usage is then taken
    assert host_memory_available() == (GiB, "memory.max", 4 * GiB, 3 * GiB)
    (tmp_path / "sys" / pod / "memory.current").write_text(f"{5 * GiB}\n")  # over the limit (reclaim is behind)
    assert host_memory_available() == (0, "memory.max", 4 * GiB, 5 * GiB)
    (tmp_path / "sys" / pod / "memory.max").write_text("max\n")  # the next limit up binds
    assert host_memory_available() == (12 * GiB, "memory.max", 32 * GiB, 20 * GiB)
    (tmp_path / "sys" / "kubepods" / "memory.max").write_text(f"{128 * GiB}\n")  # the host's MemAvailable binds
    assert host_memory_available() == (64 * GiB, "MemAvailable", None, None)


def test_a_cgroup_v1_memory_limit_binds_the_host_memory(tmp_path, monkeypatch):
    """A hybrid system (the memory controller on v1) in a container shown only its own cgroup at the mount's root:
    /proc/self/cgroup names /docker/abc, which is not under the mount."""
    from bench.hardware import host_memory_available

    files = {
        "memory/memory.limit_in_bytes": f"{4 * GiB}\n",
        "memory/memory.usage_in_bytes": f"{GiB + 512 * 1024**2}\n",
        "memory/memory.stat": f"cache 0\ninactive_file 1\ntotal_inactive_file {512 * 1024**2}\n",
        "memory.max": f"{GiB}\n",  # a v2 file the memory controller does not use here
        "memory.current": "0\n",
    }
    fake_cgroup(tmp_path, monkeypatch, "5:cpu,cpuacct:/docker/abc\n4:memory:/docker/abc\n0::/\n", files)
    assert host_memory_available() == (3 * GiB, "memory.limit_in_bytes", 4 * GiB, GiB)
    (tmp_path / "sys" / "memory" / "memory.limit_in_bytes").write_text("9223372036854771712\n")  # v1's "none"
    assert host_memory_available() == (64 * GiB, "MemAvailable", None, None)
    (tmp_path / "meminfo").write_text("MemTotal: 67108864 kB\n")  # no MemAvailable either: nothing to check
    assert host_memory_available() is None


@pytest.mark.parametrize(
    "membership, files",
    [
        ("0::/\n", {}),  # the root cgroup: no memory.max there
        ("0::/ctr\n", {"ctr/memory.max": "max\n", "ctr/memory.current": "5\n"}),
        ("0::/ctr\n", {"ctr/memory.max": f"{GiB}\n"}),  # memory.current missing
        ("0::/ctr\n", {"ctr/memory.max": "a lot\n", "ctr/memory.current": "5\n"}),
        ("0::/ctr\n", {"ctr/memory.max": f"{GiB}\n", "ctr/memory.current": "-5\n"}),
        ("0::/ctr\n", {"ctr/memory.max": "1e9\n", "ctr/memory.current": "0\n"}),
        ("0::ctr\n", {"ctr/memory.max": f"{GiB}\n", "ctr/memory.current": "0\n"}),  # not an absolute path
        ("0::/../ctr\n", {"ctr/memory.max": f"{GiB}\n", "ctr/memory.current": "0\n"}),
        ("garbage\n", {"memory.max": f"{GiB}\n", "memory.current": "0\n"}),
        ("", {"memory.max": f"{GiB}\n", "memory.current": "0\n"}),
        ("1:name=systemd:/\n", {"memory/memory.limit_in_bytes": f"{GiB}\n"}),  # no memory controller
    ],
)
def test_a_cgroup_that_cannot_be_read_leaves_mem_available(tmp_path, monkeypatch, membership, files):
    from bench.hardware import host_memory_available

    fake_cgroup(tmp_path, monkeypatch, membership, files)
    assert host_memory_available() == (64 * GiB, "MemAvailable", None, None)


def test_unreadable_cgroup_files_never_raise(tmp_path, monkeypatch):
    import bench.hardware as hardware

    fake_cgroup(tmp_path, monkeypatch, "0::/ctr\n", {"ctr/memory.max": f"{GiB}\n", "ctr/memory.current": "0\n"})
    (tmp_path / "cgroup").write_bytes(b"0::/\xff\xfe\n")  # not ASCII
    assert hardware.host_memory_available() == (64 * GiB, "MemAvailable", None, None)
    (tmp_path / "cgroup").write_text("0::/ctr\n")
    (tmp_path / "sys" / "ctr" / "memory.current").write_bytes(b"\xff\n")
    assert hardware.host_memory_available() == (64 * GiB, "MemAvailable", None, None)
    (tmp_path / "sys" / "ctr" / "memory.current").unlink()
    (tmp_path / "sys" / "ctr" / "memory.current").mkdir()  # a folder where a file belongs
    assert hardware.host_memory_available() == (64 * GiB, "MemAvailable", None, None)
    monkeypatch.setattr(hardware, "CGROUP", str(tmp_path / "sys"))  # a folder
    monkeypatch.setattr(hardware, "MEMINFO", str(tmp_path / "absent"))  # not Linux: nothing at all
    assert hardware.host_memory_available() is None


def test_a_batch_beyond_a_containers_memory_limit_is_skipped_naming_the_limit(tmp_path, monkeypatch):
    """A 4 GiB container on a 64 GiB host: the skip says the cgroup's memory.max bound it, not MemAvailable."""
    from bench.runner import check_memory

    files = {"ctr/memory.max": f"{4 * GiB}\n", "ctr/memory.current": f"{2 * GiB}\n", "ctr/memory.stat": ""}
    fake_cgroup(tmp_path, monkeypatch, "0::/ctr\n", files)
    with pytest.raises(NotApplicable) as reason:
        check_memory(case(batch=1_000_000), 1_000_000, "batch_size 1000000", "batch_sizes")
    assert str(reason.value) == (
        "not enough free memory: dlrm-tiny: batch_size 1000000 x 2.8 KiB of inputs and activations per item = "
        "2.7 GiB; 1.5 GiB free to use here (cgroup memory.max 4.0 GiB less 2.0 GiB in use = 2.0 GiB, less 10% and "
        "at least 512 MiB kept free); lower batch_sizes"
    )


def test_a_load_pass_beyond_the_free_memory_is_skipped_and_the_case_keeps_its_figures(session, monkeypatch):
    from bench.measure.load import LoadSpec

    fake_memory(monkeypatch, host=1 * GiB)
    loaded = dataclasses.replace(case(batch=64), load=LoadSpec(max_batch=65536))
    record = session.run_case(loaded, time_calls)
    assert record.status == "ok" and record.latency_p50_ms > 0 and record.pass_errors is None
    assert record.extra["load_skipped"].startswith(
        "not enough free memory: dlrm-tiny: max_batch 65536 x batch_size 64 = 4194304 items a call x 2.7 KiB of "
        "activations per item, with inputs prepared for 8388544 items x 180 B = "
    )
    assert record.extra["load_skipped"].endswith("lower load.batching.max_batch")


def test_a_replaced_engine_is_released_before_the_next_is_built_and_only_then(session, monkeypatch):
    """Memory that earlier cases left is given back when the engine changes (not when only the batch size or the
    thread count does), after the old engine is dropped and before the new one is made."""
    import bench.runner as runner

    events: list[str] = []
    monkeypatch.setattr(session._prepared, "release", lambda key: events.append(f"release {key[1].name}"))
    real_get = session._prepared.get

    def get(key, make):
        return real_get(key, lambda: events.append(f"make {key[1].name}") or make())

    monkeypatch.setattr(session._prepared, "get", get)
    for compression, batch in (("fp32", 1), ("fp32", 3), ("bf16", 1), ("bf16", 3)):
        session.run_case(case(compression=compression, batch=batch), time_calls)
    assert events == ["make fp32", "release fp32", "make bf16"]
    import torch

    resets: list[str] = []
    monkeypatch.setattr(session._prepared, "release", runner._release_engine)
    monkeypatch.setattr(torch.compiler, "reset", lambda: resets.append("reset"))
    session.run_case(case(compression="fp32"), time_calls)  # an eager engine replaced: no compiler reset
    assert resets == []  # (a model a user's factory compiled and kept is not recompiled by every eager case)


def test_an_engine_whose_make_failed_is_released_too():
    """A compile that failed part-way leaves memory behind as well: its key is released when the next one comes."""
    from bench.runner import _LastOnly

    released: list[str] = []
    cache = _LastOnly(released.append)
    cache.get("a", lambda: 1)
    with pytest.raises(RuntimeError):
        cache.get("b", lambda: (_ for _ in ()).throw(RuntimeError("graph limit")))
    assert cache.get("c", lambda: 3) == 3 and cache.get("c", lambda: 4) == 3
    assert released == ["a", "b"]


def test_a_release_that_fails_warns_once_and_never_fails_a_case(monkeypatch):
    import gc

    from bench.measure import memory

    monkeypatch.setattr(memory, "_RELEASE_WARNED", [])
    monkeypatch.setattr(gc, "collect", lambda: 1 / 0)
    with pytest.warns(UserWarning, match=r"^memory could not be given back between cases \(ZeroDivisionError"):
        memory.release_freed_memory(compiled=False)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a second warning would raise here
        memory.release_freed_memory(compiled=False)


def test_releasing_memory_drops_what_a_compiled_graph_kept_of_a_model_gone(session):
    """A frozen inductor graph keeps its constants as globals of a generated module that torch.compiler.reset()
    leaves in place: without the release, every compiled variant's weights stayed for the rest of the run and
    each case's peak RSS grew with its place in the run."""
    pytest.importorskip("torch._inductor")
    import sys
    import weakref

    from bench.measure.memory import INDUCTOR_MODULES, release_freed_memory

    model, compile_ = MethodSpec("dlrm-tiny"), MethodSpec("compile")
    compiled = Case("s", model, MethodSpec("fp32"), compile_, Placement("cpu", 1), 2, TINY)
    session.run_case(compiled, time_calls)
    weight = weakref.ref(next(session.compressed(compiled)[0].module.parameters()))
    eager = ("another model", "fp32", MethodSpec("eager"), "cpu")
    session._prepared.get(eager, lambda: "eager")  # the compiled engine is replaced ...
    session._bundles.get("another model", lambda: None)
    session._compressed.get("another variant", lambda: None)  # ... and its model dropped
    assert not any(name.startswith(INDUCTOR_MODULES) for name in sys.modules)
    assert weight() is None
    release_freed_memory()  # idempotent


def test_the_heap_is_trimmed_before_each_memory_window(monkeypatch):
    """The free heap an earlier case's accuracy pass left (glibc keeps it) was read as the next case's own: the
    1-thread case of a MiniLM variant read 40-70 MiB more than its 2-thread twin run just before it."""
    from bench.measure import memory

    events: list[str] = []
    monkeypatch.setattr(memory, "_malloc_trim", lambda: lambda pad: events.append(f"trim {pad}"))
    memory.measure_memory(lambda: events.append("call"), "cpu", 0.0)
    assert events[0] == "trim 0" and events[1:] and set(events[1:]) == {"call"}
