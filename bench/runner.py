"""Running one case: build (cached), compress (cached), place, then the measurement passes, into a Record.

The latency pass is timed by whatever ``time_calls`` the caller passes in: under pytest that is the
pytest-benchmark ``benchmark`` fixture, so its table, JSON, autosave and compare all see the same timings.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import importlib
import time
import warnings
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from typing import Any, NamedTuple

from bench import artefacts, metrics
from bench.errors import BenchError, BenchWarning, NotApplicable, first_few, outcome_of, raised_in
from bench.measure import PassResult, one_line
from bench.measure.inputs import to_device
from bench.results import ENVIRONMENT_FIELDS, Record, RunWriter
from bench.spec import Case, MethodSpec

TimeCalls = Callable[..., list[float]]
"""``time_calls(call, rounds, before_round=None)`` times ``call`` for the given number of rounds (one call each)
and returns per-call latencies in milliseconds; ``before_round()``, when given, runs untimed before every round,
and when it returns ``False`` the rounds end there (the latency pass's time limit): only those made are returned.
Under ``measure.repeats`` > 1 that is required: ``before_round()`` re-warms between the windows and says which window
a round belongs to, so a ``time_calls`` that makes other rounds than it let start fails the case, saying so.
``before_round(untimed_s=S)`` says that S seconds since the last round started were no part of its call and will not
recur (a profiled call): they are kept out of the prediction of a call's length that keeps the pass to its limit.
It is called again for more rounds while the p50 is not yet known to ``measure.precision``; each call returns only
its own rounds."""


_RECORDED = {m.name for m in metrics.recorded()}

CASE_SEED = 0
"""Seed of torch's global RNG at the start of every case."""


class PassFailedWarning(BenchWarning):
    """A memory, energy, accuracy or load pass failed: its columns are empty (a load pass keeps the scenarios it
    finished) and ``pass_errors`` says why."""


class _LastOnly:
    """A cache holding only the most recent key. The sweep runs model-major, so each model is built once per suite,
    and memory figures are not inflated by every model seen before. ``fresh`` says whether the last get built;
    ``release(key)`` runs after the value made for ``key`` is dropped (or its make failed), before the next is made."""

    def __init__(self, release: Callable[[Any], None] | None = None) -> None:
        self.key: Any = object()
        self.value: Any = None
        self.fresh = False
        self.release = release
        self.attempted: Any = None  # the key of the last make(), whether it succeeded or not

    def get(self, key: Any, make: Callable[[], Any]) -> Any:
        self.fresh = key != self.key
        if self.fresh:
            previous, self.attempted = self.attempted, key
            self.key, self.value = object(), None  # release the old one first; a failed make() leaves no key
            if previous is not None and self.release is not None:
                self.release(previous)
            self.value = make()
            self.key = key
        return self.value


COMPILING_ENGINES = ("compile", "tensorrt")
"""Engines whose graphs torch's compiler caches outlive them (see :func:`bench.measure.memory.release_freed_memory`)."""


def _release_engine(key: Any) -> None:
    """What the engine of ``key`` (model, compression, engine, device) and its case left, given back; torch's
    compiler caches only after a compiling engine, so that a model a user's factory compiled is not reset by every
    eager case."""
    from bench.measure.memory import release_freed_memory

    release_freed_memory(compiled=getattr(key[2], "name", None) in COMPILING_ENGINES)


PHASES = ("timed calls", "first calls", "warm-up", "memory", "energy", "accuracy", "load")
"""Where measuring time goes: the timed calls of the latency windows; each case's first call, which is where
``torch.compile`` compiles the graph of a new batch shape or thread count; the other untimed calls around the
windows (warm-up, re-warms between repeats); then each optional pass. Everything else in a run (model builds,
compression, engine preparation, pytest) is set-up."""


@dataclasses.dataclass
class Timer:
    """Seconds spent in each measuring phase (:data:`PHASES`) vs everything else."""

    seconds: dict[str, float] = dataclasses.field(default_factory=lambda: dict.fromkeys(PHASES, 0.0))

    @property
    def measuring_s(self) -> float:
        return sum(self.seconds.values())

    @contextlib.contextmanager
    def window(self, phase: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[phase] += time.perf_counter() - start

    def split(self, phase: str, part: str, seconds: float) -> None:
        """Move ``seconds`` already counted under ``phase`` to ``part`` (the timed calls inside a latency window)."""
        seconds = min(max(seconds, 0.0), self.seconds[phase])
        self.seconds[phase] -= seconds
        self.seconds[part] += seconds

    def since(self, before: dict[str, float]) -> dict[str, float]:
        """Seconds per phase since the snapshot ``before`` (``dict(timer.seconds)``), phases that took time only;
        their sum is the measuring time since then."""
        return {k: v - before.get(k, 0.0) for k, v in self.seconds.items() if v - before.get(k, 0.0) > 0}


def forked_rng(device: str = "cpu"):
    """``torch.random.fork_rng`` over the CPU and, for a ``cuda:K`` device, that one GPU only.

    Forking a GPU's RNG initialises CUDA in this process and reads that GPU's generator, so the GPUs a case does not
    use (other jobs' GPUs on a shared box) are left alone, and a CPU case touches no GPU at all."""
    import torch

    gpu = _gpu_index(device)
    return torch.random.fork_rng(devices=[] if gpu is None else [gpu], device_type="cuda")


def _gpu_index(device: str) -> int | None:
    """The GPU of a ``cuda[:K]`` device (bare ``cuda``: torch's default, 0), or ``None`` for any other device."""
    import torch

    return (torch.device(device).index or 0) if device.startswith("cuda") else None


@contextlib.contextmanager
def on_device(device: str) -> Iterator[None]:
    """Inference mode, and on ``cuda:K`` GPU K as the current CUDA device, for the thread that enters it: each thread
    starts on GPU 0, and what a library puts on "the current device" (torchao's fallback integer matmul returns
    ``.to("cuda")``, a factory's ``torch.zeros(n, device="cuda")``) must land beside the case's own tensors."""
    import torch

    from bench.hardware import current_device

    with torch.inference_mode(), current_device(device):
        yield


def seed(device: str, value: int) -> None:
    """Seed the CPU's generator and, for a ``cuda:K`` device, that GPU's: the generators :func:`forked_rng` restores.
    (``torch.manual_seed`` would also reseed every other GPU, which the fork leaves alone.)"""
    import torch

    torch.default_generator.manual_seed(value)
    gpu = _gpu_index(device)
    if gpu is not None:
        with torch.cuda.device(gpu):
            torch.cuda.manual_seed(value)


def build_model(spec: MethodSpec, device: str = "cpu"):
    """The fp32 ModelBundle of a model spec: a registered model, or a user factory. ``device`` is where the case
    that asks for it runs: its RNG is forked with the CPU's while the builder runs."""
    import torch

    from bench.models import MODELS

    # Builders may train at first use (reference models, user factories) and may seed torch's global RNG: the
    # RNG state is forked so that nothing they do leaks into later cases.
    with torch.inference_mode(False), forked_rng(device):
        if spec.factory:
            module_name, _, attr = spec.factory.partition(":")
            build = getattr(importlib.import_module(module_name), attr, None)
            if not callable(build):
                raise BenchError(f"factory '{spec.factory}': module '{module_name}' has no function '{attr}'")
            return _checked_bundle(_user_call(f"factory '{spec.factory}'", build, **spec.kwargs), spec.factory)
        entry = MODELS.get(spec.name)
        return entry.fn(**{**entry.params, **spec.kwargs})


def _user_call(where: str, function: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
    """``function(*args, **kwargs)``, a function of the user's; an exception it raises is marked as raised in
    ``where`` (:func:`bench.errors.raised_in`), so that the record and the line a run prints name the user's code
    (``factory 'my_models:build': evaluate raised ValueError: ...``). A :class:`NotApplicable` (the user's own skip)
    and what is no ``Exception`` (``pytest.skip()``, Ctrl-C) go on unmarked."""
    try:
        return function(*args, **kwargs)
    except NotApplicable:
        raise
    except Exception as err:
        raised_in(err, where)
        raise


def _checked_bundle(bundle: Any, factory: str):
    """A user factory's result, checked against the :class:`~bench.models.ModelBundle` contract where breaking it
    would measure the wrong thing or fail far from its cause: it is a ModelBundle, its ``make_inputs`` returns a tuple
    of inputs (a list is taken as one) and its ``evaluate`` an :class:`~bench.models.Accuracy`. A bare tensor was
    unpacked along its batch dimension, so the model was timed on its first row alone (or failed with 'forward()
    takes 2 positional arguments but 33 were given'). What its functions raise names them (:func:`_user_call`):
    ``make_inputs(8)``, ``evaluate`` (or the model, as its ``predict`` called it), ``calibration()`` and
    ``make_student(0.5)``."""
    import torch

    from bench.models import Accuracy, ModelBundle

    def what(value: Any) -> str:
        return "None" if value is None else f"a {type(value).__name__}"

    if not isinstance(bundle, ModelBundle):
        raise BenchError(f"factory '{factory}' returned {what(bundle)}, not a bench.models.ModelBundle")
    if not isinstance(bundle.module, torch.nn.Module):  # a function held no weights: recorded as a model of 0 bytes
        raise BenchError(
            f"factory '{factory}': the ModelBundle's module is {what(bundle.module)}, not a torch.nn.Module (its "
            "size, weights and compression are read from one)"
        )
    training = [name for name, part in bundle.module.named_modules() if part.training]
    if training:  # dropout drew new masks on every call, batch norm updated its statistics from the timed inputs
        what_trains = (
            "is in training mode" if "" in training else f"has layers in training mode ({first_few(training, 3)})"
        )
        raise BenchError(
            f"factory '{factory}': the ModelBundle's module {what_trains}: dropout and batch norm would change what "
            "is measured; return module.eval()"
        )
    make_inputs = bundle.make_inputs

    def checked_inputs(batch_size: int) -> tuple:
        inputs = _user_call(f"factory '{factory}': make_inputs({batch_size})", make_inputs, batch_size)
        if isinstance(inputs, list):
            inputs = tuple(inputs)
        if not isinstance(inputs, tuple):
            raise BenchError(
                f"factory '{factory}': make_inputs({batch_size}) returned {what(inputs)}, not a tuple of the "
                "model's inputs (for one input tensor x, return (x,))"
            )
        _check_rows(inputs, batch_size, factory)
        return inputs

    bundle.make_inputs = checked_inputs
    if bundle.evaluate is not None:
        evaluate = bundle.evaluate

        def checked_evaluate(predict):
            def model(*args, **kwargs):  # the case's model failing on what evaluate gave it is no error of evaluate's
                return _user_call(f"factory '{factory}': evaluate's call of the model", predict, *args, **kwargs)

            result = _user_call(f"factory '{factory}': evaluate", evaluate, model)
            if not isinstance(result, Accuracy):  # was "AttributeError: 'float' object has no attribute 'value'"
                raise BenchError(f"factory '{factory}': evaluate returned {what(result)}, not a bench.models.Accuracy")
            return result

        bundle.evaluate = checked_evaluate
    if bundle.calibration is not None:
        calibration = bundle.calibration
        # drawn whole here: a generator's error comes out of this call, not out of the compression reading it
        bundle.calibration = lambda: _user_call(f"factory '{factory}': calibration()", lambda: list(calibration()))
    if bundle.make_student is not None:
        make_student = bundle.make_student
        bundle.make_student = lambda fraction: _user_call(
            f"factory '{factory}': make_student({fraction})", make_student, fraction
        )
    return bundle


def _check_rows(inputs: tuple, batch_size: int, factory: str) -> None:
    """Raise :class:`BenchError` when no input tensor of ``make_inputs(batch_size)`` has ``batch_size`` rows (its
    dimension 0, the batch): a call is counted as ``batch_size`` items in throughput and cost, so a factory slicing a
    smaller held-out set (``test_x[:batch_size]``) was timed on fewer items and reported as many more per second."""
    import torch

    rows = [t.shape[0] for t in inputs if isinstance(t, torch.Tensor) and t.dim() > 0]
    if rows and batch_size not in rows:
        shown = rows[0] if len(set(rows)) == 1 else " and ".join(str(n) for n in dict.fromkeys(rows))
        raise BenchError(
            f"factory '{factory}': make_inputs({batch_size}) returned inputs of {shown} rows, not {batch_size}: "
            f"dimension 0 of an input is its batch, and each call counts as {batch_size} items (repeat the data to "
            "fill a larger batch)"
        )


def check_memory(case: Case, items: int, what: str, key: str, prepared: int | None = None) -> None:
    """Raise :class:`NotApplicable` when the inputs and activations of a call on ``items`` batch items (by the
    registered model's ``item_bytes`` estimate, as ``bench validate`` checks it against 8 GiB; ``prepared`` as for
    :func:`bench.models.batch_bytes`) do not fit in the memory this process can still allocate now, less a reserve
    (:func:`bench.hardware.usable_memory`): the host's ``MemAvailable``, or its container's cgroup limit less what the
    container uses where that is less (:func:`bench.hardware.host_memory_available`; the message names the one that
    bound it). On a CUDA device the inputs are built in host memory first and the whole is checked against the
    device's free memory. The message names ``key``, the suite key to lower. User factories have no estimate; where
    free memory cannot be read (not Linux), nothing is checked."""
    from bench.hardware import gpu_memory_available, host_memory_available, usable_memory
    from bench.models import batch_bytes, item_bytes_of, size_text

    model = case.model
    per_item = item_bytes_of(model)
    if per_item is None:
        return
    text, need = batch_bytes(per_item, items, f"{model.label}: {what}", prepared)

    def host() -> tuple[int, str] | None:
        memory = host_memory_available()
        if memory is None:
            return None
        if memory.limit is None or memory.in_use is None:
            return memory.available, f"{memory.source} {size_text(memory.available)}"
        return memory.available, (
            f"cgroup {memory.source} {size_text(memory.limit)} less {size_text(memory.in_use)} in use = "
            f"{size_text(memory.available)}"
        )

    def gpu() -> tuple[int, str] | None:
        free = gpu_memory_available(case.placement.device)
        return None if free is None else (free, f"free and cached {size_text(free)}")

    checks = [(text, need, "here", host)]
    if case.placement.device_type == "cuda":
        inputs = f"{model.label}: {what} x {size_text(per_item[0])} of inputs per item, built in host memory"
        checks = [(inputs, items * per_item[0], "here", host), (text, need, f"on {case.placement.device}", gpu)]
    for text, need, where, available in checks:
        reading = available()
        if reading is not None and need > usable_memory(reading[0]):
            free, source = reading
            raise NotApplicable(
                f"not enough free memory: {text} = {size_text(need)}; {size_text(max(usable_memory(free), 0))} "
                f"free to use {where} ({source}, less 10% and at least 512 MiB kept free); lower {key}"
            )


def _sources(model: MethodSpec) -> tuple[str, ...]:
    """The source files a compressed variant of ``model`` is made by: every compression method's module, and the
    module that builds the model (a registered reference model or the user's factory)."""
    from pathlib import Path

    import bench.compress
    from bench.models import MODELS

    package = Path(bench.compress.__file__).parent
    builder = model.factory.partition(":")[0] if model.factory else MODELS.get(model.name).fn.__module__
    builder_file = getattr(importlib.import_module(builder), "__file__", None)
    return tuple(sorted(str(p) for p in package.glob("*.py"))) + ((builder_file,) if builder_file else ())


def setup_pass(size, compressed_info: dict, prepared_info: dict, fresh_engine: bool) -> PassResult:
    """What building the case cost and produced: its size, compress / compile / train times, the backend."""
    info = {**compressed_info, **prepared_info}
    columns = {
        "model_size_bytes": size.model_size_bytes,
        "params": size.params,
        "nonzero_params": size.nonzero_params,
        "sparse_size_bytes": info.pop("sparse_size_bytes", None),
        "compress_time_s": info.pop("compress_time_s", None),
        # charged to the case that compiled; later shapes' recompiles show in extra.first_call_s
        "compile_time_s": info.pop("compile_time_s", None) if fresh_engine else None,
        "train_time_s": info.pop("train_time_s", None),
        "compress_backend": info.pop("backend", None),
    }
    return PassResult("setup", columns=columns, extra=info)


def merge_columns(passes: list[PassResult]) -> dict[str, Any]:
    """Every pass's columns in one mapping; a column no metric row declares, or two passes claim, is a bug."""
    merged: dict[str, Any] = {}
    for result in passes:
        for name, value in result.columns.items():
            if name not in _RECORDED or name in merged:
                raise RuntimeError(f"the {result.name} pass wrote {name!r}: unknown in bench.metrics, or written twice")
            merged[name] = value
    return merged


def _on_device(module, case: Case) -> bool:
    """True when every parameter and buffer is already where the case runs (built there, e.g. by torchao)."""
    tensors = [*module.parameters(), *module.buffers()] if hasattr(module, "parameters") else []
    return bool(tensors) and all(t.device.type == case.placement.device_type for t in tensors)


class Session:
    """State shared by the cases of one run: the results writer, the model caches and the time accounting. A
    ``--benchmark-disable`` session has no writer: it only calls each case once (:meth:`smoke_case`)."""

    def __init__(self, writer: RunWriter | None, environment: dict[str, Any]):
        self.writer = writer
        self.environment = environment
        self.timer = Timer()
        self._bundles = _LastOnly()
        self._compressed = _LastOnly()
        # the last of the three to change: what earlier variants left (compiled graphs, heap) goes with it
        self._prepared = _LastOnly(_release_engine)
        self._accuracy: dict[Any, Any] = {}
        self._digests: dict[Any, str] = {}  # the current model's content digest (artefact cache keys)

    # -- cached steps -------------------------------------------------------------------------------

    def bundle(self, case: Case):
        return self._bundles.get(case.model, lambda: build_model(case.model, case.placement.device))

    def compressed(self, case: Case):
        def make():
            import torch

            from bench.compress import COMPRESSIONS
            from bench.measure.size import measure_size

            entry = COMPRESSIONS.get(case.compression.name)
            params = {**entry.params, **case.compression.kwargs}

            def apply():
                with _one_warning_each(), torch.inference_mode(False):  # some methods train (distill, fine-tuning)
                    return entry.fn(self.bundle(case), case.placement, **params)

            start = time.perf_counter()
            if entry.cached is not None and entry.cached(**params):
                key = self._variant_key(case, entry, params)
                result, cache_info = artefacts.load_or_make(f"compressed-{entry.name}", key, apply)
                result.info.update(cache_info)
            else:
                result = apply()
            result.info.setdefault("compress_time_s", time.perf_counter() - start)
            if case.placement.device != "cpu" and hasattr(result.module, "to") and not _on_device(result.module, case):
                # never move the cached fp32 bundle itself: other methods still compress it on the CPU
                module = copy.deepcopy(result.module) if result.module is self.bundle(case).module else result.module
                result.module = module.to(case.placement.device)
            return result, measure_size(result.module)

        key = (case.model, case.compression, case.placement.device)
        return self._compressed.get(key, make)

    def _variant_key(self, case: Case, entry, params: dict[str, Any]) -> dict[str, Any]:
        """What a cached compressed variant depends on (:mod:`bench.artefacts`): the fp32 model's content, the
        method and its parameters, the device type, and the source of the compression methods and of the model
        builder (its calibration and training data come from there)."""
        if case.model not in self._digests:
            self._digests = {case.model: artefacts.module_digest(self.bundle(case).module)}
        return {
            "model": self._digests[case.model],
            "method": entry.name,
            "params": params,
            "device_type": case.placement.device_type,
            "source": artefacts.source_digest(*_sources(case.model)),
        }

    def prepared(self, case: Case, compressed, example_inputs):
        def make():
            from bench.engines import ENGINES

            entry = ENGINES.get(case.engine.name)
            start = time.perf_counter()
            prepared = entry.fn(compressed, example_inputs, case.placement, **{**entry.params, **case.engine.kwargs})
            prepared.info.setdefault("prepare_time_s", time.perf_counter() - start)
            return prepared

        key = (case.model, case.compression, case.engine, case.placement.device)
        prepared = self._prepared.get(key, make)
        return prepared, self._prepared.fresh

    # -- one case -------------------------------------------------------------------------------------

    def run_case(self, case: Case, time_calls: TimeCalls) -> Record:
        """Run every pass of one case and append its record. Skips and failures are recorded too, then re-raised; a
        ``pytest.exit()`` from inside the case (its model, engine, accuracy or load pass) leaves no record, as
        Ctrl-C: it stops the run, and ``--resume`` measures the case again."""
        started, phases_before = time.perf_counter(), dict(self.timer.seconds)
        try:
            record, samples = self._measure(case, time_calls, started, phases_before)
        except BaseException as err:  # record the outcome, then let pytest report it (Ctrl-C records nothing half-done)
            # a pytest.exit() from the model or engine is like Ctrl-C: no record (--resume); a pytest.skip() or
            # pytest.fail() from there is the case's outcome, as pytest reports it
            status = outcome_of(err)
            if status is None:
                raise
            if status == "skipped":  # NotApplicable's reason, or pytest.skip()'s message
                self.writer.append(self._record(case, "skipped", error=getattr(err, "msg", None) or str(err)))
                raise
            measure_time_s = sum(self.timer.since(phases_before).values())
            self.writer.append(
                self._record(
                    case,
                    "failed",
                    error=one_line(err),
                    setup_time_s=time.perf_counter() - started - measure_time_s,
                    measure_time_s=measure_time_s,
                )
            )
            raise
        self.writer.append(record, samples)
        return record

    def smoke_case(self, case: Case, call_once: Callable[[Callable[[], object]], object]) -> None:
        """``--benchmark-disable``: build, compress and prepare the case as a measurement would, then hand its call
        to ``call_once`` (pytest-benchmark's disabled fixture calls it once, untimed). No warm-up, no pass, no
        record: a check that the case runs, which measures nothing."""
        with self._in_case(case):
            call_once(self._ready(case).call)

    @contextlib.contextmanager
    def _in_case(self, case: Case) -> Iterator[None]:
        """Where a case runs: its placement checked, its thread count set, torch's RNG forked and seeded (random
        inputs are the same whatever the case order, and nothing a model or input generator draws leaks into the
        caller's random state), inference mode; on ``cuda:K``, GPU K as the current CUDA device (:func:`on_device`)."""
        from bench.hardware import check_placement, cpu_threads

        check_placement(case.placement)
        device = case.placement.device
        with cpu_threads(case.placement.threads), forked_rng(device), on_device(device):
            seed(device, CASE_SEED)
            yield

    def _ready(self, case: Case) -> _Ready:
        """The case's model built, compressed and prepared on its engine (each cached), its inputs made and placed:
        the call a pass makes. Inside :meth:`_in_case`."""
        from bench.hardware import synchronizer as synchronizer_for

        device = case.placement.device
        bundle = self.bundle(case)
        compressed, size = self.compressed(case)
        # before the inputs are built: a batch beyond the memory free here is a skip, not an OOM kill
        check_memory(case, case.batch_size, f"batch_size {case.batch_size}", "batch_sizes")
        inputs = to_device(bundle.make_inputs(case.batch_size), device, compressed.input_dtype)
        prepared, fresh_engine = self.prepared(case, compressed, inputs)
        call = _timed_callable(prepared.call, inputs, synchronizer_for(device))
        return _Ready(bundle, compressed, size, prepared, fresh_engine, call)

    def _measure(self, case: Case, time_calls: TimeCalls, started: float, phases_before: dict[str, float]):
        from bench.hardware import run_queue_wait_ns
        from bench.measure.accuracy import accuracy_pass
        from bench.measure.energy import energy_pass
        from bench.measure.memory import memory_pass
        from bench.measure.timing import latency_pass

        device, spec = case.placement.device, case.measure
        with self._in_case(case):
            bundle, compressed, size, prepared, fresh_engine, call = self._ready(case)
            memory, memory_s = PassResult("memory", error="the warm-up made no second call"), 0.0

            def sampled_warm_up(seconds_left: float) -> int:
                # the warm-up's calls after the first are the memory pass's window: it needs no calls of its own
                nonlocal memory, memory_s
                start, window_s = time.perf_counter(), max(seconds_left, spec.memory_s)
                memory = self._guarded(
                    case,
                    "memory",
                    lambda: memory_pass(
                        call, device, window_s, compressed.module, prepared.outside_torch, prepared.cuda_peak_unseen
                    ),
                    timed=False,
                )
                memory_s = time.perf_counter() - start
                return int(memory.extra.get("memory_calls", 0))

            # latency is the pass every record needs: if it fails, the case fails
            with self.timer.window("warm-up"):
                latency = latency_pass(
                    call,
                    time_calls,
                    spec,
                    device,
                    case.batch_size,
                    case.full_id,
                    warm_rest=sampled_warm_up,
                    cpu_wait=run_queue_wait_ns,
                    threads=case.placement.threads or 1,
                )
            # the timed calls themselves and the first call; the rest of the window was warm-up and re-warms
            self.timer.split("warm-up", "timed calls", sum(latency.samples_ms or ()) / 1000.0)
            self.timer.split("warm-up", "first calls", latency.extra.get("first_call_s") or 0.0)
            self.timer.split("warm-up", "memory", memory_s)
            # the other passes are each on their own: one that fails leaves the others' figures in the record
            passes = [
                latency,
                setup_pass(size, compressed.info, prepared.info, fresh_engine),
                memory,
                self._guarded(case, "energy", lambda: energy_pass(call, device, case.batch_size, spec)),
                self._guarded(
                    case, "accuracy", lambda: accuracy_pass(self._accuracy, bundle, prepared, compressed, case)
                ),
            ]
            if case.load is not None:  # the suite has a load: section
                passes.append(self._guarded(case, "load", lambda: self._load(case, bundle, compressed, prepared)))
        phases = self.timer.since(phases_before)
        measure_time_s = sum(phases.values())
        errors = "; ".join(f"{p.name}: {p.error}" for p in passes if p.error)
        record = self._record(
            case,
            "ok",
            **merge_columns(passes),
            setup_time_s=time.perf_counter() - started - measure_time_s,
            measure_time_s=measure_time_s,
            pass_errors=errors or None,
            info={k: v for p in passes for k, v in p.extra.items()}
            | {"phase_time_s": {k: round(v, 4) for k, v in phases.items()}},
        )
        return record, latency.samples_ms

    # -- the passes -----------------------------------------------------------------------------------

    def _load(self, case: Case, bundle, compressed, prepared) -> PassResult:
        """LoadGen's scenarios on this case: a batch of ``n`` requests is one call on ``n × batch_size`` items."""
        from bench.hardware import synchronizer as synchronizer_for
        from bench.measure.load import case_log_dir, load_pass
        from bench.measure.sut import load_input_items

        device, sync = case.placement.device, synchronizer_for(case.placement.device)
        batch, max_batch = case.batch_size, case.load.max_batch
        # the largest call, with inputs prepared for every padded batch size; the latency pass's inputs are held too,
        # but were built already: the free memory read now leaves them out (bench validate adds them to its bound)
        try:
            what = f"max_batch {max_batch} x batch_size {batch} = {max_batch * batch} items a call"
            check_memory(case, max_batch * batch, what, "load.batching.max_batch", load_input_items(max_batch, batch))
        except NotApplicable as reason:
            return PassResult("load", extra={"load_skipped": str(reason)})

        def call_for(requests: int):
            inputs = to_device(bundle.make_inputs(requests * case.batch_size), device, compressed.input_dtype)
            return _timed_callable(prepared.call, inputs, sync)

        log_dir = case_log_dir(self.writer.path, case.full_id)
        return load_pass(
            call_for,
            case.load,
            case.batch_size,
            log_dir,
            thread_context=lambda: on_device(device),  # LoadGen's worker is a thread of its own: it starts on GPU 0
            case_id=case.full_id,
        )

    def _guarded(self, case: Case, name: str, run: Callable[[], PassResult], timed: bool = True) -> PassResult:
        """Run one optional pass in its own timed window (unless ``timed`` is false: the caller times it); an error
        is kept in the result (and warned), not raised."""
        try:
            with self.timer.window(name) if timed else contextlib.nullcontext():
                result = run()
            if result.error:  # stopped part-way: what it measured before is kept
                warnings.warn(
                    f"{case.full_id}: the {name} pass failed ({result.error}); the record keeps what it measured "
                    "before and the other passes' figures",
                    PassFailedWarning,
                    stacklevel=3,
                )
            return result
        except BaseException as err:  # a failed pass must not discard what the other passes measured
            if outcome_of(err) is None:  # Ctrl-C, SIGTERM, pytest.exit(): no failure of the pass, the run stops
                raise
            # an exception, or a pytest.skip() or pytest.fail() from the pass's own code (an evaluation), is its error
            message = one_line(err)
            warnings.warn(
                f"{case.full_id}: the {name} pass failed ({message}); the record keeps the other passes' figures",
                PassFailedWarning,
                stacklevel=3,
            )
            return PassResult(name, error=message)

    def _record(self, case: Case, status: str, info: dict[str, Any] | None = None, **values: Any) -> Record:
        from bench.hardware import device_environment

        env = self.environment
        if status != "skipped":
            with contextlib.suppress(Exception):  # a broken device must not hide the case's own error
                env = device_environment(env, case.placement.device)
        extra = {
            "model_params": case.model.kwargs,
            "compression_params": case.compression.kwargs,
            "engine_params": case.engine.kwargs,
            **(info or {}),
        }
        return Record(
            run_id=self.writer.run_id,
            suite=case.suite,
            case_id=case.case_id,
            model=case.model.label,
            compression=case.compression.label,
            engine=case.engine.label,
            device=case.placement.device,
            threads=case.placement.threads,
            batch_size=case.batch_size,
            status=status,
            timestamp=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            extra=extra,
            **{k: v for k, v in env.items() if k in ENVIRONMENT_FIELDS},
            **values,
        )


class _Ready(NamedTuple):
    """A case ready to be called (:meth:`Session._ready`)."""

    bundle: Any
    compressed: Any
    size: Any
    prepared: Any
    fresh_engine: bool
    call: Callable[[], object]


def _timed_callable(call, inputs: tuple, sync) -> Callable[[], object]:
    """The zero-argument function that is timed: the model call, then a device sync so async work counts."""
    if sync is None:
        return lambda: call(*inputs)

    def call_and_sync():
        out = call(*inputs)
        sync()
        return out

    return call_and_sync


_warned: set[tuple[str, str]] = set()


@contextlib.contextmanager
def _one_warning_each() -> Iterator[None]:
    """Let library warnings (deprecations) through once per run, not once per case."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    for warning in caught:
        key = (warning.category.__name__, str(warning.message))
        if key not in _warned:
            _warned.add(key)
            warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
