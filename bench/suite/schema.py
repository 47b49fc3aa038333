"""Suite validation and sweep expansion: every key checked, every error one line naming the file, the key path and
what is allowed, then the sweep matrix expanded into :class:`~bench.spec.Case` objects."""

from __future__ import annotations

import dataclasses
import itertools
import math
import re
import shlex
from collections.abc import Callable, Iterable
from dataclasses import fields
from pathlib import Path
from typing import Any

from bench import checks
from bench.errors import SuiteError, UnknownName, did_you_mean, first_few
from bench.measure.load import LoadSpec
from bench.registry import Entry, Registry, find_module
from bench.spec import Case, MeasureSpec, MethodSpec, Placement, Suite, default_label, freeze_params

SWEEP_KEYS = ("models", "compression", "engines", "hardware", "batch_sizes")
# Sections validated by the module that reads them: ``validate(value, where)`` returns the checked section. They
# are imported when a suite has the section: the judge's pandas and the gate's scipy stay out of start-up.
SECTION_OWNERS: dict[str, str] = {
    "scoring": "bench.judge.scoring:validate_scoring",
    "constraints": "bench.judge.decide:validate_constraints",
    "prices": "bench.judge.cost:validate_prices",
    "capacity": "bench.judge.cost:validate_capacity",
    "gates": "bench.gate.rules:validate_gates",
    "load": "bench.measure.load:validate_load",
}


def section_validator(key: str) -> Callable[[Any, str], Any]:
    """The ``validate(value, where)`` of a section named in :data:`SECTION_OWNERS`."""
    import importlib

    module, _, name = SECTION_OWNERS[key].partition(":")
    return getattr(importlib.import_module(module), name)


TOP_LEVEL_KEYS = (
    "suite",
    "description",
    "extends",
    *SWEEP_KEYS,
    "measure",
    "exclude",
    "include",
    *SECTION_OWNERS,
)
AXES = ("model", "compression", "engine", "device", "threads", "batch_size")
INCLUDE_REQUIRED = ("model", "compression", "device", "batch_size")
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*\Z")
"""A suite's, a label's or a swept value's name: what a case id is made of. ``\\Z``, not ``$``: ``$`` also matches
before a last newline, so ``suite: "quick\\n"`` was valid and its case ids held a line break."""
FACTORY_PATTERN = re.compile(r"[^\W\d]\w*(?:\.[^\W\d]\w*)*:[^\W\d]\w*")
"""A user factory, ``package.module:function``: dotted names, then the function's own name (the runner looks it up
as one attribute). Matched whole: the ``$`` it ended with let ``"pkg:build\\n"`` through, and ``pkg:a.b`` passed
validation to fail the case."""
MAX_COUNT = checks.MAX_COUNT
MEASURE_LIMITS = {"warmup_s": 3600, "min_time_s": 3600, "memory_s": 3600, "energy_min_s": 3600, "cpu_tdp_w": 10_000}
MEASURE_LIMITS |= {"min_rounds": 1_000_000, "max_rounds": 1_000_000, "repeats": 1000, "max_time_s": 5 * 3600}
"""Largest value of each ``measure:`` key: an hour per pass (five for ``max_time_s``, as its default 5 x min_time_s),
a million rounds (every other number must be finite)."""
MAX_SAMPLES = 10_000_000
"""Most timed calls one case may keep (``repeats`` x ``max_rounds``): each is a sample in memory and in the file."""
MAX_CASES = 100_000
"""Most cases one suite may expand to (sweep products and includes), so that a typo in a sweep cannot hang
validation or exhaust memory; the largest shipped suite has a few hundred."""
MAX_RULE_CHECKS = 10_000_000
"""Most ``exclude`` rule checks (rules x cases of the sweep) one suite may need: 2000 rules on a sweep of 100,000
cases took minutes to validate, and about 19,000 rules fit in a file (seconds at this bound)."""
MAX_PARAM = 2**63 - 1
"""Largest number a method parameter may take (a 64-bit integer; each method's ``check`` narrows it)."""


class Validator:
    """Checks one suite's merged mapping and expands it; ``suite()`` returns the :class:`~bench.spec.Suite`."""

    def __init__(self, file: str, data: dict[str, Any]):
        self.file = file
        self.data = data
        self._item_bytes: dict[MethodSpec, tuple[int, int] | None] = {}

    def error(self, key: str | None, message: str) -> SuiteError:
        return SuiteError(self.file, key, message)

    # -- small typed readers ------------------------------------------------------------------------

    def positive_int(self, value: Any, key: str, minimum: int = 1) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(key, f"must be an integer >= {minimum}, got {checks.type_name(value)} {value!r}")
        if value < minimum:
            raise self.error(key, f"must be an integer >= {minimum}, got {checks.short(value)}")
        if value > MAX_COUNT:
            raise self.error(key, f"must be an integer <= {MAX_COUNT}, got {checks.short(value)}")
        return value

    def int_list(self, value: Any, key: str, minimum: int = 1) -> list[int]:
        items = value if isinstance(value, list) else [value]
        if not items:
            raise self.error(key, "must not be empty")
        numbers = [
            self.positive_int(v, f"{key}[{i}]" if isinstance(value, list) else key, minimum)
            for i, v in enumerate(items)
        ]
        seen: set[int] = set()
        for i, number in enumerate(numbers):
            if number in seen:  # as a swept value: the second would silently be the same cases
                raise self.error(f"{key}[{i}]", f"{number} is listed twice")
            seen.add(number)
        return numbers

    def mapping(self, value: Any, key: str, allowed: Iterable[str]) -> dict[str, Any]:
        return checks.mapping(value, key, allowed, self.file)

    # -- the suite ------------------------------------------------------------------------------------

    def suite(self) -> Suite:
        data = self.mapping(self.data, "", TOP_LEVEL_KEYS)
        name = data.get("suite")
        if not isinstance(name, str) or not NAME_PATTERN.match(name):
            raise self.error("suite", _bad_name(name, "suite" in data))
        description = data.get("description", "")
        if not isinstance(description, str):
            raise self.error("description", f"must be a string, got {checks.type_name(description)}")
        if "models" not in data:
            raise self.error("models", "required: a list of model names (e.g. [dlrm-tiny])")

        from bench.compress import COMPRESSIONS
        from bench.engines import ENGINES
        from bench.models import MODELS

        models = self.methods(data["models"], "models", MODELS, allow_factory=True)
        compressions = self.methods(data.get("compression", ["fp32"]), "compression", COMPRESSIONS)
        engines = self.methods(data.get("engines", ["eager"]), "engines", ENGINES)
        placements = self.placements(data.get("hardware", {"cpu": {"threads": [1]}}))
        batch_sizes = self.int_list(data.get("batch_sizes", [1]), "batch_sizes")
        measure = self.measure(data.get("measure", {}))
        self.rewarms(measure, placements)

        by_label = {
            "model": {m.label: m for m in models},
            "compression": {c.label: c for c in compressions},
            "engine": {e.label: e for e in engines},
        }
        sweep_values: dict[str, set[Any]] = {
            "model": {v for m in models for v in (m.label, m.name)},
            "compression": {v for c in compressions for v in (c.label, c.name)},
            "engine": {v for e in engines for v in (e.label, e.name)},
            "device": {v for p in placements for v in (p.device, p.device_type)},
            "threads": {p.threads for p in placements if p.threads is not None},
            "batch_size": set(batch_sizes),
        }
        excludes = [
            self.axis_filter(e, f"exclude[{i}]", sweep_values) for i, e in enumerate(self.list_of(data, "exclude"))
        ]
        axes = {"models": models, "compression": compressions, "engines": engines}
        axes |= {"hardware": placements, "batch_sizes": batch_sizes}
        total = math.prod(len(values) for values in axes.values())
        if total > MAX_CASES:
            sizes = " x ".join(f"{len(values)} {key}" for key, values in axes.items())
            raise self.error(None, f"the sweep has {sizes} = {total} cases; at most {MAX_CASES}")
        if len(excludes) * total > MAX_RULE_CHECKS:
            raise self.error(
                "exclude",
                f"{len(excludes)} rules x {total} cases = {len(excludes) * total} checks; at most {MAX_RULE_CHECKS} "
                "(fewer rules: each axis of a rule takes a list of values)",
            )
        cases: dict[str, Case] = {}
        listed = isinstance(data.get("batch_sizes"), list)
        batch_keys = {b: f"batch_sizes[{i}]" if listed else "batch_sizes" for i, b in enumerate(batch_sizes)}
        for model, compression, engine, placement, batch in itertools.product(
            models, compressions, engines, placements, batch_sizes
        ):
            case = Case(name, model, compression, engine, placement, batch, measure)
            values = case.axis_values()  # once per case, not once per rule
            if not any(_matches(values, rule) for rule in excludes):
                self.batch_memory(case, batch_keys[batch])
                self.add(cases, case, None)
        for i, entry in enumerate(self.list_of(data, "include")):
            case = self.include(entry, f"include[{i}]", name, measure, by_label)
            self.batch_memory(case, f"include[{i}].batch_size")
            self.add(cases, case, f"include[{i}]")
        if not cases:
            total = len(models) * len(compressions) * len(engines) * len(placements) * len(batch_sizes)
            removed = "the only case" if total == 1 else f"all {total} cases"
            raise self.error("exclude", f"the sweep is empty: exclude removed {removed}")

        sections = tuple((key, self.section(key, data[key])) for key in SECTION_OWNERS if key in data)
        self.reference((dict(sections).get("scoring") or {}).get("reference") or {}, cases.values())
        self.reference_cases(name, dict(sections).get("scoring"), list(cases.values()))
        if "load" in data:  # every case of the suite gets the load pass
            load = LoadSpec.from_section(dict(sections)["load"])
            cases = {key: dataclasses.replace(case, load=load) for key, case in cases.items()}
            for case in cases.values():
                self.batch_memory(case, "load.batching.max_batch", load.max_batch)
        return Suite(name, self.file, description, tuple(cases.values()), sections)

    def batch_memory(self, case: Case, key: str, max_batch: int | None = None) -> None:
        """A registered model's batch must fit in 8 GiB by the model's own estimate (``item_bytes``): one forward
        pass on ``batch_size`` items, or with ``max_batch`` the load pass's largest call on ``max_batch x batch_size``
        items, with inputs prepared for every padded batch size at once and the latency pass's, held meanwhile
        (:func:`bench.measure.sut.load_input_items`). User factories have no estimate."""
        from bench.measure.sut import load_input_items
        from bench.models import check_batch, item_bytes_of

        model = case.model
        if model not in self._item_bytes:
            self._item_bytes[model] = item_bytes_of(model)
        per_item, batch = self._item_bytes[model], case.batch_size
        if per_item is None:
            return
        try:
            if max_batch is None:
                check_batch(per_item, batch, f"{model.label}: batch_size {batch}")
            else:
                prepared = load_input_items(max_batch, batch) + batch  # and the latency pass's own inputs
                what = f"{model.label}: max_batch {max_batch} x batch_size {batch} = {max_batch * batch} items a call"
                check_batch(per_item, max_batch * batch, what, prepared)
        except ValueError as err:
            raise self.error(key, str(err)) from None

    def add(self, cases: dict[str, Case], case: Case, key: str | None) -> None:
        """Add ``case`` unless the same case is there; another case with its id (a label reused for other settings,
        or labels that join into the same id) is an error: one of them would be dropped without a word."""
        other = cases.setdefault(case.case_id, case)
        if other != case:
            axes = {"model": "models", "compression": "compression", "engine": "engines"}
            differ = [axis for axis in axes if getattr(other, axis) != getattr(case, axis)]
            raise self.error(
                key or axes[differ[0]],
                f"two different cases would both be {case.case_id} (they differ in {' and '.join(differ)}); "
                "give one of them another label",
            )

    def list_of(self, data: dict[str, Any], key: str) -> list[Any]:
        value = data.get(key, [])
        if not isinstance(value, list):
            raise self.error(key, f"must be a list of mappings, got {checks.type_name(value)}")
        return value

    def methods(self, value: Any, key: str, registry: Registry[Entry], allow_factory: bool = False) -> list[MethodSpec]:
        if isinstance(value, (str, dict)):
            value = [value]
        if not isinstance(value, list) or not value:
            raise self.error(key, f"must be a non-empty list; allowed names: {', '.join(registry.names())}")
        specs: list[MethodSpec] = []
        labels: dict[str, int] = {}
        for i, item in enumerate(value):
            for spec in self.expand(item, f"{key}[{i}]", registry, allow_factory):
                if spec.label in labels:
                    raise self.error(
                        f"{key}[{i}]",
                        f"duplicate '{spec.label}' (same as {key}[{labels[spec.label]}]); give one a 'label'",
                    )
                labels[spec.label] = i
                specs.append(spec)
        return specs

    def expand(self, item: Any, key: str, registry: Registry[Entry], allow_factory: bool) -> list[MethodSpec]:
        """One spec, or with ``sweep: {param: [v1, v2]}`` one spec per value (per combination for several
        parameters), labelled ``<label or name>-<value part>`` (:func:`_sweep_label`): ``minilm-search-seq_len128``.
        """
        if not (isinstance(item, dict) and "sweep" in item):
            return [self.method(item, key, registry, allow_factory)]
        base = {k: v for k, v in item.items() if k != "sweep"}
        self.mapping(base, key, ("name", "params", "label") + (("factory",) if allow_factory else ()))
        sweep, params = item["sweep"], base.get("params") or {}
        example = "e.g. sweep: {seq_len: [64, 128]}"
        if not isinstance(sweep, dict) or not sweep:
            raise self.error(f"{key}.sweep", f"must be a mapping of parameter -> list of values, {example}")
        if not isinstance(params, dict):
            raise self.error(f"{key}.params", f"must be a mapping of parameters, got {checks.type_name(params)}")
        name = base.get("name")
        entry = None
        if base.get("factory") is None:
            entry = self.registered(name, registry, key)
        else:
            self.keyword_names(sweep, f"{key}.sweep")
        for param, values in sweep.items():
            where = f"{key}.sweep.{param}"
            if param in params:
                raise self.error(where, f"is also set in {key}.params; give it in one place")
            if entry is not None and param not in entry.params:
                allowed = ", ".join(entry.params) or "none"
                raise self.error(where, f"unknown parameter.{did_you_mean(param, entry.params)} Allowed: {allowed}")
            if not isinstance(values, list) or not values:
                raise self.error(where, f"must be a non-empty list of values, {example}; got {values!r}")
            seen: dict[Any, int] = {}  # values.index(value) was quadratic: 90,000 values took minutes to validate
            for j, value in enumerate(values):
                if entry is not None:
                    try:
                        self.check_params({param: value}, Entry(entry.name, entry.fn, entry.params), where)
                    except SuiteError as err:
                        raise self.error(f"{where}[{j}]", err.message) from None
                part = _sweep_label(param, value)
                if not NAME_PATTERN.match(part):
                    raise self.error(
                        f"{where}[{j}]",
                        f"{value!r} cannot be shown in a case id (letters, digits, '.', '_', '-'); "
                        "give each value its own entry with a 'label'",
                    )
                if seen.setdefault(freeze_params({param: value})[0][1], j) != j:  # hashable, equal where value is
                    raise self.error(f"{where}[{j}]", f"{value!r} is listed twice")
        combinations = math.prod(len(values) for values in sweep.values())
        if combinations > MAX_CASES:
            raise self.error(f"{key}.sweep", f"expands to {combinations} combinations; at most {MAX_CASES}")
        prefix = base.get("label") or (
            default_label(name, freeze_params(params)) if entry is not None else base.get("name")
        )
        if not isinstance(prefix, str) or not NAME_PATTERN.match(prefix):
            raise self.error(f"{key}.label", "must be letters, digits, '.', '_' or '-'")
        specs = []
        for combination in itertools.product(*sweep.values()):
            values = dict(zip(sweep, combination, strict=True))
            label = "-".join([prefix, *(_sweep_label(p, v) for p, v in values.items())])
            spec = self.method({**base, "params": {**params, **values}, "label": label}, key, registry, allow_factory)
            # a user factory's spec is named by its label; swept variants keep the entry's name for exclude rules
            specs.append(dataclasses.replace(spec, name=name) if spec.factory else spec)
        return specs

    def method(self, item: Any, key: str, registry: Registry[Entry], allow_factory: bool) -> MethodSpec:
        """``name``, ``{name: {params}}``, or ``{name: ..., params: {...}, label: ...}`` (models: ``factory:``)."""
        explicit = ("name", "params", "label") + (("factory",) if allow_factory else ())
        if isinstance(item, str):
            name, params, label, factory = item, {}, "", None
        elif isinstance(item, dict) and len(item) == 1 and next(iter(item)) not in explicit:
            name, params = next(iter(item.items()))
            params = {} if params is None else params
            label, factory = "", None
        elif isinstance(item, dict):
            self.mapping(item, key, explicit)
            name, params, label = item.get("name"), item.get("params", {}) or {}, item.get("label", "")
            factory = item.get("factory")
        else:
            raise self.error(key, f"must be a name or a mapping, got {checks.type_name(item)}")
        if not isinstance(params, dict):
            raise self.error(f"{key}.params", f"must be a mapping of parameters, got {checks.type_name(params)}")
        if label and (not isinstance(label, str) or not NAME_PATTERN.match(label)):
            raise self.error(f"{key}.label", "must be letters, digits, '.', '_' or '-'")
        if factory is not None:
            return self.factory_model(factory, params, label or name, key)
        entry = self.registered(name, registry, key)
        self.check_params(params, entry, f"{key}.{name}" if not label else f"{key}.params")
        return MethodSpec(name=name, params=freeze_params(params), label=label)

    def registered(self, name: Any, registry: Registry[Entry], key: str) -> Entry:
        """The registry's entry for ``name``; a missing or unknown name is an error at ``key``."""
        if not isinstance(name, str):
            raise self.error(key, f"needs a {registry.kind} name; allowed: {', '.join(registry.names())}")
        try:
            return registry.get(name)
        except UnknownName as err:
            raise self.error(key, str(err)) from None

    def check_params(self, params: dict[str, Any], entry: Entry, key: str) -> None:
        for param, value in params.items():
            if param not in entry.params:
                allowed = ", ".join(entry.params) or "none"
                raise self.error(
                    f"{key}.{param}",
                    f"unknown parameter.{did_you_mean(param, entry.params)} Allowed: {allowed}",
                )
            default = entry.params[param]
            if default is None:
                continue
            expected = (int, float) if isinstance(default, float) else type(default)
            if isinstance(value, bool) != isinstance(default, bool) or not isinstance(value, expected):
                raise self.error(
                    f"{key}.{param}",
                    f"must be {checks.a(checks.type_name(default))} (like {default!r}), "
                    f"got {checks.type_name(value)} {value!r}",
                )
            if isinstance(value, (int, float)) and not isinstance(value, bool) and value < 0:
                raise self.error(f"{key}.{param}", f"must not be negative, got {value}")
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                checks.number(value, f"{key}.{param}", file=self.file)
        if entry.check is not None:  # before the 2**63 - 1 backstop, so that lr: 1e300 gets lr's own range
            try:
                entry.check(**{**entry.params, **params})
            except (ValueError, TypeError, UnknownName) as err:
                raise self.error(key, str(err)) from None
        for param, value in params.items():
            if entry.params[param] is not None and isinstance(value, (int, float)) and not isinstance(value, bool):
                checks.number(value, f"{key}.{param}", maximum=MAX_PARAM, file=self.file)

    def factory_model(self, factory: Any, params: dict[str, Any], label: Any, key: str) -> MethodSpec:
        if not isinstance(factory, str) or not FACTORY_PATTERN.fullmatch(factory):
            raise self.error(f"{key}.factory", f"must be 'package.module:function', got {checks.short(factory)}")
        module_name = factory.partition(":")[0]
        if not find_module(module_name):  # found, not imported: validating a suite runs none of its code
            raise self.error(
                f"{key}.factory", f"no module '{module_name}' on the import path (sys.path){self.beside(module_name)}"
            )
        if not isinstance(label, str) or not NAME_PATTERN.match(label):
            raise self.error(f"{key}.name", "a factory model needs a 'name' (letters, digits, '.', '_', '-')")
        self.keyword_names(params, f"{key}.params")
        return MethodSpec(name=label, params=freeze_params(params), label=label, factory=factory)

    def beside(self, module_name: str) -> str:
        """A hint when the factory's module lies in the suite's folder, which is not on the import path: the suite
        was run from another folder than the one ``PYTHONPATH=.`` named, or without it."""
        top = module_name.split(".")[0]
        folder = Path(self.file).resolve().parent
        if find_module(top) or not ((folder / f"{top}.py").is_file() or (folder / top).is_dir()):
            return ""
        found = f"{top}.py" if (folder / f"{top}.py").is_file() else f"{top}/"
        return (
            f"; {found} is in the suite's folder, which is not on it: add that folder "
            f"(PYTHONPATH={shlex.quote(str(folder))}, an absolute path works from any folder)"
        )

    def keyword_names(self, params: dict[Any, Any], key: str) -> None:
        """A factory's parameter names must be text: it is called with them as keyword arguments, so ``{1: 8}`` was
        valid and then failed its case (``keywords must be strings``), and ``{1: 8, a: 2}`` crashed validation."""
        for param in params:
            if not isinstance(param, str):
                raise self.error(
                    key,
                    f"parameter names must be text (the factory is called with them as keyword arguments), got "
                    f"{checks.type_name(param)} {checks.short(param)}",
                )

    def placements(self, value: Any) -> list[Placement]:
        hardware = self.mapping(value, "hardware", ("cpu", "cuda"))
        if not hardware:
            raise self.error("hardware", "must name at least one target: cpu or cuda")
        placements: list[Placement] = []
        if "cpu" in hardware:
            cpu = self.mapping(hardware["cpu"] or {}, "hardware.cpu", ("threads",))
            for threads in self.int_list(cpu.get("threads", [1]), "hardware.cpu.threads"):
                placements.append(Placement("cpu", threads))
        if "cuda" in hardware:
            cuda = self.mapping(hardware["cuda"] or {}, "hardware.cuda", ("devices",))
            for index in self.int_list(cuda.get("devices", [0]), "hardware.cuda.devices", minimum=0):
                placements.append(Placement(f"cuda:{index}"))
        return placements

    def measure(self, value: Any) -> MeasureSpec:
        spec_fields = {f.name: f for f in fields(MeasureSpec)}
        given = self.mapping(value, "measure", spec_fields)
        defaults = MeasureSpec()
        for key, raw in given.items():
            default = getattr(defaults, key)
            if key == "repeats":  # an integer >= 1, or null for the device's default
                if raw is not None and (isinstance(raw, bool) or not isinstance(raw, int) or raw < 1):
                    raise self.error("measure.repeats", f"must be an integer >= 1 (or null for auto), got {raw!r}")
                checks.number(raw or 1, "measure.repeats", maximum=MEASURE_LIMITS["repeats"], file=self.file)
                continue
            if key in ("precision", "max_time_s") and raw is None:  # null: no precision target / 5 x min_time_s
                continue
            if isinstance(default, bool):
                if not isinstance(raw, bool):
                    raise self.error(f"measure.{key}", f"must be true or false, got {raw!r}")
                continue
            if isinstance(raw, bool) or not isinstance(raw, (int, float)):
                raise self.error(f"measure.{key}", f"must be a number, got {checks.type_name(raw)} {raw!r}")
            checks.number(raw, f"measure.{key}", minimum=-math.inf, maximum=MEASURE_LIMITS.get(key), file=self.file)
            if isinstance(default, int) and not isinstance(raw, int):
                raise self.error(f"measure.{key}", f"must be an integer, got {raw!r}")
            minimum_ok = raw >= 0 if key == "warmup_s" else raw > 0
            if not minimum_ok:
                bound = ">= 0" if key == "warmup_s" else "> 0"
                raise self.error(f"measure.{key}", f"must be {bound}, got {raw}")
        measure = MeasureSpec(**given)
        if measure.precision is not None and measure.precision >= 1:
            raise self.error("measure.precision", f"must be a fraction below 1 (0.01 = ±1%), got {measure.precision}")
        if measure.time_limit_s < measure.min_time_s:
            raise self.error(
                "measure.max_time_s",
                f"must not be below measure.min_time_s ({measure.time_limit_s} < {measure.min_time_s})",
            )
        if measure.min_rounds > measure.max_rounds:
            raise self.error(
                "measure.min_rounds",
                f"must not exceed measure.max_rounds ({measure.min_rounds} > {measure.max_rounds})",
            )
        if (measure.repeats or 1) * measure.max_rounds > MAX_SAMPLES:  # auto is at most 3 x 1e6
            raise self.error(
                "measure.repeats",
                f"{measure.repeats} windows x measure.max_rounds {measure.max_rounds} = "
                f"{measure.repeats * measure.max_rounds} samples per case; at most {MAX_SAMPLES} (lower one of them)",
            )
        return measure

    def rewarms(self, measure: MeasureSpec, placements: list[Placement]) -> None:
        """The re-warms of a case's latency windows must fit in ``measure.max_time_s``, which bounds the latency pass
        (its timed calls and re-warms): every window but the first starts with ``warmup_s`` of untimed calls, and
        those of the first round of windows are made whatever the limit, so ``repeats: 100, warmup_s: 3600`` ran 99
        hours of re-warms past a ``max_time_s`` of 5."""
        windows = max(measure.repeats_for(p.device) for p in placements)
        seconds = (windows - 1) * measure.warmup_s
        if seconds <= measure.time_limit_s:
            return
        given = f"{windows} windows" if measure.repeats is not None else f"auto ({windows} windows on a GPU)"
        raise self.error(
            "measure.repeats",
            f"{given} re-warm for measure.warmup_s {measure.warmup_s:g} s before each but the first: {seconds:g} s, "
            f"more than measure.max_time_s {measure.time_limit_s:g} s, which bounds the latency pass (its timed calls "
            "and re-warms); raise measure.max_time_s or lower measure.repeats or measure.warmup_s",
        )

    def axis_filter(self, entry: Any, key: str, sweep_values: dict[str, set[Any]]) -> dict[str, set[Any]]:
        """An exclude rule; every value must occur on its axis of the sweep (a rule that can never match is a typo)."""
        rule = self.mapping(entry, key, AXES)
        if not rule:
            raise self.error(key, f"an empty rule would match every case; use keys {', '.join(AXES)}")
        filters: dict[str, set[Any]] = {}
        for axis, raw in rule.items():
            values = raw if isinstance(raw, list) else [raw]
            if not values:  # a rule that can never match, as a value outside the sweep
                raise self.error(f"{key}.{axis}", "an empty list matches no case; give one or more values")
            known = sweep_values[axis]
            for value in values:
                if isinstance(value, (dict, list, bool)) or value is None:  # true would match the number 1
                    raise self.error(
                        f"{key}.{axis}",
                        f"must be a name or number (use a method's label, e.g. 'prune-l1-0.5'), got {value!r}",
                    )
                if value not in known:
                    close = did_you_mean(str(value), map(str, known))
                    raise self.error(
                        f"{key}.{axis}",
                        f"{checks.short(value)} is not in this suite's sweep.{close} "
                        f"Allowed: {_listed(str(v) for v in known)}",
                    )
            filters[axis] = set(values)
        return filters

    def reference(self, reference: dict[str, Any], cases: Iterable[Case]) -> None:
        """Each value ``scoring.reference`` names must be one the suite's cases show in the report's column (a label,
        ``cuda:0``): the report looks the reference case up by those, so any other value fails it after the run."""
        shown: dict[str, set[Any]] = {axis: set() for axis in AXES}
        for case in cases:
            for axis, value in zip(AXES, _columns(case), strict=True):
                shown[axis].add(value)
        for axis, value in reference.items():
            if value != "first" and value not in shown[axis]:
                known = [str(v) for v in shown[axis] if v is not None]
                raise self.error(
                    f"scoring.reference.{axis}",
                    f"{checks.short(value)} is not in this suite's cases.{did_you_mean(str(value), known)} "
                    f"Allowed: {_listed(known) or 'none (no case has this axis)'}",
                )

    def reference_cases(self, suite: str, scoring: dict[str, Any] | None, cases: list[Case]) -> None:
        """Every case needs its reference case (``scoring.reference``'s rule, by default fp32 eager of the same model
        and device) in the suite: the report normalises S and T against it, so a suite without one would be measured
        in full and then fail its report."""
        from bench.judge.scoring import REFERENCE_AXES, ScoringConfig, unreferenced

        config = ScoringConfig.from_section(scoring)
        rows = reference_rows(cases)
        missing = unreferenced(rows, config)
        if not missing:
            return
        i, wanted = missing[0]
        case, explicit = cases[i], set((scoring or {}).get("reference") or {})
        looked_for = ", ".join(f"{axis}={value}" for axis, value in wanted.items())
        example = f"e.g. scoring.reference: {{compression: {rows[i]['compression']}}}"
        key = "scoring.reference"
        fix = f"add that case, or set scoring.reference (keys: {', '.join(REFERENCE_AXES)}) to a case the suite has"
        for axis, section in (("compression", "compression"), ("engine", "engines")):
            if axis not in explicit and not any(row[axis] == wanted[axis] for row in rows):
                key = section
                fix = f"add {wanted[axis]} to {section}, or set scoring.reference to a case the suite has ({example})"
                break
        raise self.error(
            key,
            f"{case.case_id} has no reference case to be scored against ({looked_for}): the reference rule is "
            f"{config.reference_rule}; {fix}",
        )

    def include(
        self,
        entry: Any,
        key: str,
        suite: str,
        measure: MeasureSpec,
        by_label: dict[str, dict[str, MethodSpec]],
    ) -> Case:
        from bench.compress import COMPRESSIONS
        from bench.engines import ENGINES
        from bench.models import MODELS

        rule = self.mapping(entry, key, AXES)
        missing = [axis for axis in INCLUDE_REQUIRED if axis not in rule]
        if missing:
            raise self.error(key, f"an include entry needs {', '.join(INCLUDE_REQUIRED)}; missing {', '.join(missing)}")
        specs = {}
        for axis, registry in (("model", MODELS), ("compression", COMPRESSIONS), ("engine", ENGINES)):
            value = rule.get(axis, "eager")
            specs[axis] = by_label[axis].get(value) if isinstance(value, str) else None
            if specs[axis] is None:
                specs[axis] = self.method(value, f"{key}.{axis}", registry, allow_factory=axis == "model")
        device = rule["device"]
        cuda = re.fullmatch(r"cuda(?::([0-9]+))?", device) if isinstance(device, str) else None
        if device == "cpu":
            placement = Placement("cpu", self.positive_int(rule.get("threads", 1), f"{key}.threads"))
        elif cuda:
            if "threads" in rule:
                raise self.error(f"{key}.threads", "applies to device: cpu only (a GPU case has no thread count)")
            index = cuda.group(1) or "0"
            if len(index.lstrip("0")) > len(str(MAX_COUNT)) or int(index) > MAX_COUNT:  # as hardware.cuda.devices
                raise self.error(
                    f"{key}.device", f"the device index N of cuda:N must be <= {MAX_COUNT}, got {checks.short(device)}"
                )
            placement = Placement(device if ":" in device else "cuda:0")
        else:
            raise self.error(f"{key}.device", f"must be cpu, cuda or cuda:N, got {checks.short(device)}")
        batch = self.positive_int(rule["batch_size"], f"{key}.batch_size")
        return Case(suite, specs["model"], specs["compression"], specs["engine"], placement, batch, measure)

    def section(self, key: str, value: Any) -> Any:
        validate = section_validator(key)
        try:
            return validate(value, f"{key}")
        except SuiteError as err:
            raise SuiteError(self.file, err.key or key, err.message) from None
        except (TypeError, ValueError) as err:
            raise self.error(key, str(err)) from None


MAX_LISTED = 20
"""Most allowed values an error lists: a sweep of 1000 batch sizes made a typo's one line 5 KB long."""


def _listed(values: Iterable[str]) -> str:
    """``values`` sorted and joined, the first :data:`MAX_LISTED` of them and how many more."""
    return first_few(sorted(values), MAX_LISTED)


def _bad_name(name: Any, given: bool) -> str:
    """What is wrong with a suite's name: missing, or what was given instead. ``suite: off`` (or ``no``, ``on``) is a
    boolean to YAML, and was answered "required" as if the key were missing."""
    allowed = "a name of letters, digits, '.', '_' or '-' (e.g. recsys-quick)"
    if not given:
        return f"required: {allowed}"
    hint = " (YAML reads an unquoted yes, no, on, off, true or false as a boolean: quote it)"
    got = f"{checks.type_name(name)} {checks.short(name)}" if not isinstance(name, str) else checks.short(name)
    return f"must be {allowed}, got {got}{hint if isinstance(name, bool) else ''}"


def _sweep_label(param: str, value: Any) -> str:
    """How one swept value shows in a label: ``seq_len128`` for a number (a bare 128 says nothing), the value
    itself for a string (``reduce-overhead``), ``name-true``/``-false`` for a flag, items joined by ``x`` for a list."""
    if isinstance(value, list):
        return param + "x".join(str(v) for v in value)
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return f"{param}-{str(value).lower()}"
    return f"{param}{value}"


def reference_rows(cases: Iterable[Case]) -> list[dict[str, Any]]:
    """Cases as :func:`bench.judge.scoring.unreferenced` reads them: ``suite`` and each axis as records show it."""
    return [{"suite": case.suite, **dict(zip(AXES, _columns(case), strict=True))} for case in cases]


def _columns(case: Case) -> tuple[Any, ...]:
    """A case's value on each of :data:`AXES` as its record shows it (labels, the full device name)."""
    placement = case.placement
    labels = (case.model.label, case.compression.label, case.engine.label)
    return (*labels, placement.device, placement.threads, case.batch_size)


def _matches(values: dict[str, set[Any]], rule: dict[str, set[Any]]) -> bool:
    """Whether a case of these :meth:`~bench.spec.Case.axis_values` matches an ``exclude`` rule."""
    return all(values[axis] & wanted for axis, wanted in rule.items())
