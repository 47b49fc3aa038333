"""Frozen, hashable specs: one per sweep axis, composed into a :class:`Case`."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

Params = tuple[tuple[str, Any], ...]


class FrozenMapping(tuple):
    """A mapping inside a parameter's value, frozen: its (key, value) pairs sorted as :func:`freeze_params` sorts
    them, so it hashes, compares and prints as the tuple of pairs it always was (case ids and equal specs stay as
    they were); it also keeps the keys' order as written, so that :func:`thaw` gives the very mapping back."""

    def __new__(cls, items: Iterable[tuple[Any, Any]]) -> FrozenMapping:
        written = tuple(items)
        frozen = super().__new__(cls, sorted(written, key=_by_type))
        frozen.written = written
        return frozen

    def __reduce__(self) -> tuple[Any, ...]:
        return FrozenMapping, (self.written,)


def freeze_params(params: dict[str, Any] | None) -> Params:
    """Sorted (key, value) pairs, so equal parameter sets hash equally; mappings become :class:`FrozenMapping`,
    lists tuples, sets frozensets (:func:`thaw` undoes it). Keys sort by type name first: a user factory's
    parameter may be a mapping with keys of several types (``{1: a, b: c}``), which plain sorting refused with a
    TypeError."""

    def freeze(value: Any) -> Any:
        if isinstance(value, dict):
            return FrozenMapping((k, freeze(v)) for k, v in value.items())
        if isinstance(value, list):
            return tuple(freeze(v) for v in value)
        if isinstance(value, set):  # YAML's !!set: a set made the spec unhashable (a TypeError in validation)
            return frozenset(value)
        return value

    return tuple((key, freeze(value)) for key, value in sorted((params or {}).items()))


def thaw(value: Any) -> Any:
    """A frozen parameter value as the suite gave it: mappings (keys in their written order), lists and sets.
    A factory given ``{a: 1}`` was called with ``[('a', 1)]``, and a list inside a list came as a tuple."""
    if isinstance(value, FrozenMapping):
        return {key: thaw(item) for key, item in value.written}
    if isinstance(value, tuple):
        return [thaw(item) for item in value]
    if isinstance(value, frozenset):
        return set(value)
    return value


@dataclass(frozen=True)
class MethodSpec:
    """A registered method with its parameters: a model, a compression level or an engine.

    ``label`` is what case ids show: the name when there are no parameters, else name and parameter values.
    ``factory`` is set only for user models given as ``"package.module:function"``.
    """

    name: str
    params: Params = ()
    label: str = ""
    factory: str | None = None

    def __post_init__(self) -> None:
        if not self.label:
            object.__setattr__(self, "label", default_label(self.name, self.params))

    @property
    def kwargs(self) -> dict[str, Any]:
        """The parameters as the suite gave them (:func:`thaw`): what the builder, method or engine is called with."""
        return {key: thaw(value) for key, value in self.params}


def _by_type(item: tuple[Any, Any]) -> tuple[str, Any]:
    """A mapping item's sort key: its key's type name, then the key (keys of one type compare as before)."""
    return type(item[0]).__name__, item[0]


def default_label(name: str, params: Params) -> str:
    if not params:
        return name
    return name + "-" + "-".join(str(value) for _, value in params)


@dataclass(frozen=True)
class Placement:
    """Where a case runs: ``cpu`` with a thread count, or ``cuda:K``."""

    device: str
    threads: int | None = None

    @property
    def device_type(self) -> str:
        return self.device.split(":", 1)[0]

    @property
    def label(self) -> str:
        if self.device_type == "cpu":
            return f"cpu-{self.threads}t"
        return self.device.replace(":", "")


@dataclass(frozen=True)
class MeasureSpec:
    """How each case is measured. Every field is a key of the suite's ``measure:`` mapping."""

    warmup_s: float = 0.2
    """Seconds of untimed calls before the latency pass (lets caches, allocators and JITs settle)."""
    min_time_s: float = 1.0
    """The latency pass runs at least this long in total..."""
    min_rounds: int = 20
    """...and at least this many rounds (in each window); one round is one call, so every sample is a per-call
    latency. A floor within a ``max_time_s`` the suite sets: a case too slow for that many calls in it gets those
    that fit (at least one) and is flagged (``extra.min_rounds_cut``, a warning); the default limit never cuts it."""
    max_rounds: int = 100_000
    """...and at most this many (bounds the raw-samples file for sub-microsecond calls)."""
    memory_s: float = 0.2
    """Least length of the memory pass: the warm-up's calls after the first, while a sampler thread records peak
    RSS (the warm-up lasts this long when ``warmup_s`` is shorter)."""
    unstable_iqr_ratio: float = 0.10
    """A case whose latency IQR/median exceeds this is flagged ``unstable`` and a warning is shown."""
    energy_min_s: float = 3.0
    """Minimum length of the energy pass (energy counters update only every 10-100 ms)."""
    energy: bool = True
    """Run the energy pass (NVML on GPUs, RAPL on CPUs); false skips it and ``energy_source`` says so."""
    cpu_tdp_w: float | None = None
    """Opt-in estimate for CPU cases without a readable RAPL meter: TDP x CPU share, labelled ``estimate-tdp``."""
    accuracy: bool = True
    """Run the accuracy pass when the model can evaluate itself."""
    repeats: int | None = None
    """Independent latency windows per case, each after an untimed re-warm; their spread (``latency_between_spread``)
    is recorded and counts towards ``unstable``. ``None`` (the default) means 3 on CUDA and 1 on the CPU."""
    max_between_spread: float = 0.10
    """A case whose window medians spread by more than this ((max - min) / median) is flagged ``unstable``."""
    precision: float | None = 0.01
    """Keep timing until the 95% confidence interval of the p50 is within ±this (relative; 0.01 = ±1%), after
    ``min_time_s`` and ``min_rounds`` and until ``max_time_s``; ``None`` times exactly ``min_time_s``."""
    max_time_s: float | None = None
    """The latency pass (its timed calls and re-warms) stops here even when ``precision`` was not reached or, set
    here, ``min_rounds`` calls were not made (the case is then flagged); ``None`` means 5 x ``min_time_s``, which
    bounds only the calls past ``min_rounds``. No call or re-warm due to end past it is started, but one call a
    window (after its re-warm): a case too slow for that is flagged (``extra.max_time_s_passed``)."""

    def repeats_for(self, device: str) -> int:
        """The number of latency windows for a case on ``device``."""
        if self.repeats is not None:
            return self.repeats
        return 3 if device.startswith("cuda") else 1

    @property
    def time_limit_s(self) -> float:
        """Where the latency pass stops at the latest: ``max_time_s``, by default 5 x ``min_time_s``."""
        return self.max_time_s if self.max_time_s is not None else 5.0 * self.min_time_s


@dataclass(frozen=True)
class Case:
    """One point of a suite's sweep matrix."""

    suite: str
    model: MethodSpec
    compression: MethodSpec
    engine: MethodSpec
    placement: Placement
    batch_size: int
    measure: MeasureSpec = field(default_factory=MeasureSpec)
    load: Any = None
    """The suite's ``load:`` settings (a frozen ``bench.measure.load.LoadSpec``), or ``None``: no load pass."""

    @property
    def case_id(self) -> str:
        """Stable, readable id, e.g. ``dlrm-tiny[bf16-cpu-2t-bs64]``; the engine shows when it is not eager."""
        parts = [self.compression.label]
        if self.engine.label != "eager":
            parts.append(self.engine.label)
        parts += [self.placement.label, f"bs{self.batch_size}"]
        return f"{self.model.label}[{'-'.join(parts)}]"

    @property
    def full_id(self) -> str:
        return f"{self.suite}::{self.case_id}"

    def axis_values(self) -> dict[str, Any]:
        """The values that ``exclude`` / ``include`` entries match against."""
        return {
            "model": {self.model.label, self.model.name},
            "compression": {self.compression.label, self.compression.name},
            "engine": {self.engine.label, self.engine.name},
            "device": {self.placement.device, self.placement.device_type},
            "threads": {self.placement.threads},
            "batch_size": {self.batch_size},
        }


@dataclass(frozen=True)
class Suite:
    """A validated suite: its cases plus the sections that scoring, cost and gates read."""

    name: str
    path: str
    description: str
    cases: tuple[Case, ...]
    sections: tuple[tuple[str, Any], ...] = ()
    files: tuple[str, ...] = ()
    """Every file that went into the suite: its own, then its ``extends`` parents (each hashed into the run's meta)."""

    def section(self, key: str, default: Any = None) -> Any:
        return dict(self.sections).get(key, default)

    def measure_settings(self) -> dict[str, Any]:
        """The effective ``measure:`` settings of the suite's cases (one mapping: ``include`` points share them)."""
        specs = {case.measure for case in self.cases}
        if len(specs) != 1:
            return {"per_case": sorted(str(s) for s in specs)}
        return asdict(specs.pop())
