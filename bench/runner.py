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
from typing import Any

from bench.errors import NotApplicable
from bench.measure.inputs import to_device
from bench.results import ENVIRONMENT_FIELDS, Record, RunWriter
from bench.spec import Case, MethodSpec

TimeCalls = Callable[..., list[float]]
"""``time_calls(call, rounds, before_round=None)`` times ``call`` for the given number of rounds (one call each)
and returns per-call latencies in milliseconds; ``before_round()``, when given, runs untimed before every round."""


CASE_SEED = 0
"""Seed of torch's global RNG at the start of every case."""


class UnstableWarning(UserWarning):
    """Latency spread (IQR/median) is above the suite's threshold: the figures may not be reproducible."""


class PassFailedWarning(UserWarning):
    """A memory, energy or accuracy pass raised: its columns are empty and ``pass_errors`` says why."""


def _one_line(err: BaseException, limit: int = 300) -> str:
    """``Type: message`` on one line, cut to ``limit`` characters (a C++ stack must not fill a record)."""
    text = " ".join(f"{type(err).__name__}: {err}".split()).strip().rstrip(":")
    return text if len(text) <= limit else text[: limit - 1] + "…"


class _LastOnly:
    """A cache holding only the most recent key. The sweep runs model-major, so each model is built once per suite,
    and memory figures are not inflated by every model seen before. ``fresh`` says whether the last get built."""

    def __init__(self) -> None:
        self.key: Any = object()
        self.value: Any = None
        self.fresh = False

    def get(self, key: Any, make: Callable[[], Any]) -> Any:
        self.fresh = key != self.key
        if self.fresh:
            self.value = None  # release the old one before building the new one
            self.value = make()
            self.key = key
        return self.value


@dataclasses.dataclass
class Timer:
    """Seconds spent inside measurement windows (latency, memory, energy, accuracy) vs everything else."""

    measuring_s: float = 0.0

    @contextlib.contextmanager
    def window(self) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.measuring_s += time.perf_counter() - start


def forked_rng():
    """``torch.random.fork_rng`` over the CPU and every visible CUDA device (``manual_seed`` seeds them all)."""
    import torch

    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
    return torch.random.fork_rng(devices=devices)


def build_model(spec: MethodSpec):
    """The fp32 ModelBundle of a model spec: a registered model, or a user factory."""
    import torch

    from bench.models import MODELS

    # Builders may train at first use (reference models, user factories) and may seed torch's global RNG: the
    # RNG state is forked so that nothing they do leaks into later cases.
    with torch.inference_mode(False), forked_rng():
        if spec.factory:
            module_name, _, attr = spec.factory.partition(":")
            build = getattr(importlib.import_module(module_name), attr)
            return build(**spec.kwargs)
        entry = MODELS.get(spec.name)
        return entry.fn(**{**entry.params, **spec.kwargs})


def _on_device(module, case: Case) -> bool:
    """True when every parameter and buffer is already where the case runs (built there, e.g. by torchao)."""
    tensors = [*module.parameters(), *module.buffers()] if hasattr(module, "parameters") else []
    return bool(tensors) and all(t.device.type == case.placement.device_type for t in tensors)


class Session:
    """State shared by the cases of one run: the results writer, the model caches and the time accounting."""

    def __init__(self, writer: RunWriter, environment: dict[str, Any]):
        self.writer = writer
        self.environment = environment
        self.timer = Timer()
        self._bundles = _LastOnly()
        self._compressed = _LastOnly()
        self._prepared = _LastOnly()
        self._accuracy: dict[Any, Any] = {}

    # -- cached steps -------------------------------------------------------------------------------

    def bundle(self, case: Case):
        return self._bundles.get(case.model, lambda: build_model(case.model))

    def compressed(self, case: Case):
        def make():
            import torch

            from bench.compress import COMPRESSIONS
            from bench.measure.size import measure_size

            entry = COMPRESSIONS.get(case.compression.name)
            start = time.perf_counter()
            with _one_warning_each(), torch.inference_mode(False):  # some methods train (distill, fine-tuning)
                result = entry.fn(self.bundle(case), case.placement, **{**entry.params, **case.compression.kwargs})
            result.info.setdefault("compress_time_s", time.perf_counter() - start)
            if case.placement.device != "cpu" and hasattr(result.module, "to") and not _on_device(result.module, case):
                # never move the cached fp32 bundle itself: other methods still compress it on the CPU
                module = copy.deepcopy(result.module) if result.module is self.bundle(case).module else result.module
                result.module = module.to(case.placement.device)
            return result, measure_size(result.module)

        key = (case.model, case.compression, case.placement.device)
        return self._compressed.get(key, make)

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
        """Run every pass of one case and append its record. Skips and failures are recorded too, then re-raised."""
        started = time.perf_counter()
        measuring_before = self.timer.measuring_s
        try:
            record, samples = self._measure(case, time_calls, started, measuring_before)
        except NotApplicable as reason:
            self.writer.append(self._record(case, "skipped", error=str(reason)))
            raise
        except Exception as err:  # record the failure, then let pytest report it (Ctrl-C records nothing half-done)
            message = f"{type(err).__name__}: {err}".strip().rstrip(":")
            self.writer.append(
                self._record(
                    case,
                    "failed",
                    error=message or type(err).__name__,
                    setup_time_s=time.perf_counter() - started - (self.timer.measuring_s - measuring_before),
                    measure_time_s=self.timer.measuring_s - measuring_before,
                )
            )
            raise
        self.writer.append(record, samples)
        return record

    def _measure(self, case: Case, time_calls: TimeCalls, started: float, measuring_before: float):
        import torch

        from bench.hardware import check_placement, cpu_threads
        from bench.hardware import synchronizer as synchronizer_for

        check_placement(case.placement)
        # The RNG is forked and seeded per case: random inputs are the same whatever the case order, and nothing a
        # model or input generator draws leaks into the caller's random state.
        with cpu_threads(case.placement.threads), forked_rng(), torch.inference_mode():
            torch.manual_seed(CASE_SEED)
            bundle = self.bundle(case)
            compressed, size = self.compressed(case)
            inputs = to_device(bundle.make_inputs(case.batch_size), case.placement.device, compressed.input_dtype)
            prepared, fresh_engine = self.prepared(case, compressed, inputs)
            call = _timed_callable(prepared.call, inputs, synchronizer_for(case.placement.device))
            # latency is the pass every record needs: if it fails, the case fails
            stats, samples_ms, first_call_s = self._latency(case, call, time_calls)
            # the other passes are each on their own: one that fails leaves the others' figures in the record
            errors: dict[str, str] = {}
            memory = self._guarded(case, "memory", errors, lambda: self._memory(case, call, compressed))
            energy = self._guarded(case, "energy", errors, lambda: self._energy(case, call))
            accuracy = self._guarded(
                case, "accuracy", errors, lambda: self._accuracy_of(case, bundle, prepared, compressed)
            )

        measure_time_s = self.timer.measuring_s - measuring_before
        energy, accuracy = dict(energy or {}), dict(accuracy or {})
        info = {
            "first_call_s": first_call_s,
            **compressed.info,
            **prepared.info,
            **energy.pop("info", {}),
            **accuracy.pop("extra", {}),
        }
        record = self._record(
            case,
            "ok",
            **dataclasses.asdict(stats),
            peak_rss_mb=memory.peak_rss_mb if memory else None,
            cuda_max_allocated_mb=memory.cuda_max_allocated_mb if memory else None,
            cuda_weights_mb=memory.cuda_weights_mb if memory else None,
            model_size_bytes=size.model_size_bytes,
            params=size.params,
            nonzero_params=size.nonzero_params,
            sparse_size_bytes=info.pop("sparse_size_bytes", None),
            compress_time_s=info.pop("compress_time_s", None),
            # charged to the case that compiled; later shapes' recompiles show in extra.first_call_s
            compile_time_s=info.pop("compile_time_s", None) if fresh_engine else None,
            train_time_s=info.pop("train_time_s", None),
            compress_backend=info.pop("backend", None),
            setup_time_s=time.perf_counter() - started - measure_time_s,
            measure_time_s=measure_time_s,
            pass_errors="; ".join(f"{name}: {message}" for name, message in errors.items()) or None,
            **energy,
            **accuracy,
            info=info,
        )
        return record, samples_ms

    # -- the passes -----------------------------------------------------------------------------------

    def _latency(self, case: Case, call, time_calls: TimeCalls):
        """``measure.repeats`` windows, each after an untimed warm-up, timed in one ``time_calls`` (so pytest-benchmark
        sees every sample); the windows' spread counts towards ``unstable``."""
        from bench.measure.timing import LatencyStats, rounds_for, warm_up

        spec = case.measure
        windows = spec.repeats_for(case.placement.device)
        warm = warm_up(call, spec.warmup_s)
        rounds = rounds_for(warm.seconds_per_call, spec.min_time_s / windows, spec.min_rounds, spec.max_rounds)
        with self.timer.window():
            if windows == 1:
                samples_ms = time_calls(call, rounds)
            else:
                counter = iter(range(rounds * windows))

                def before_round() -> None:  # untimed: between windows, warm up again
                    index = next(counter)
                    if index and index % rounds == 0:
                        warm_up(call, spec.warmup_s)

                samples_ms = time_calls(call, rounds * windows, before_round=before_round)
        stats = LatencyStats.from_samples(
            samples_ms,
            case.batch_size,
            spec.unstable_iqr_ratio,
            windows=windows,
            max_between_spread=spec.max_between_spread,
        )
        if stats.unstable:
            iqr_ratio = stats.latency_iqr_ms / stats.latency_p50_ms
            reasons = [f"latency IQR/median = {iqr_ratio:.0%} > {spec.unstable_iqr_ratio:.0%}"] * (
                iqr_ratio > spec.unstable_iqr_ratio
            )
            if (stats.latency_between_spread or 0.0) > spec.max_between_spread:
                reasons.append(
                    f"the medians of {windows} windows spread {stats.latency_between_spread:.0%} "
                    f"> {spec.max_between_spread:.0%}"
                )
            warnings.warn(
                f"{case.full_id}: {'; '.join(reasons)}; figures may not be reproducible", UnstableWarning, stacklevel=3
            )
        return stats, samples_ms, warm.first_call_s

    def _memory(self, case: Case, call, compressed):
        from bench.measure.memory import measure_memory
        from bench.measure.size import device_bytes

        device = case.placement.device
        weights = device_bytes(compressed.module, device) if device.startswith("cuda") else None
        return measure_memory(call, device, case.measure.memory_s, weights_bytes=weights)

    def _energy(self, case: Case, call) -> dict[str, Any]:
        from bench.measure.energy import measure_energy

        return measure_energy(call, case.placement.device, case.batch_size, case.measure)

    def _accuracy_of(self, case: Case, bundle, prepared, compressed) -> dict[str, Any] | None:
        from bench.measure.accuracy import measure_accuracy, reference_accuracy

        if not case.measure.accuracy or bundle.evaluate is None:
            return None
        key = (case.model, case.compression, case.engine, case.placement.device_type)
        if key not in self._accuracy:
            reference = reference_accuracy(self._accuracy, case)
            self._accuracy[key] = measure_accuracy(bundle, prepared, compressed, case, reference)
        return dict(self._accuracy[key])

    def _guarded(self, case: Case, name: str, errors: dict[str, str], run: Callable[[], Any]) -> Any:
        """Run one optional pass in its own timed window; an error is kept in ``errors`` (and warned), not raised."""
        try:
            with self.timer.window():
                return run()
        except Exception as err:  # a failed pass must not discard what the other passes measured
            errors[name] = _one_line(err)
            warnings.warn(
                f"{case.full_id}: the {name} pass failed ({errors[name]}); the record keeps the other passes' figures",
                PassFailedWarning,
                stacklevel=3,
            )
            return None

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
