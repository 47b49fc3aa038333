"""The only extension point: one small generic registry, its entries, and the decorator that fills it.

Models, compression methods and engines each keep a :class:`Registry` of :class:`Entry` objects; a new one is one
new file plus one registration (``import_submodules`` imports every module of the package).
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from bench.errors import UnknownName, did_you_mean

T = TypeVar("T")


class Registry(Generic[T]):
    """Maps names to entries; lookups of unknown names raise with "did you mean" and the allowed names."""

    def __init__(self, kind: str):
        self.kind = kind
        self._entries: dict[str, T] = {}

    def add(self, name: str, entry: T) -> T:
        if name in self._entries:
            raise ValueError(f"{self.kind} '{name}' is already registered")
        self._entries[name] = entry
        return entry

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator form of :meth:`add`."""

        def decorate(entry: T) -> T:
            return self.add(name, entry)

        return decorate

    def get(self, name: str) -> T:
        try:
            return self._entries[name]
        except KeyError:
            raise UnknownName(
                f"unknown {self.kind} '{name}'.{did_you_mean(name, self._entries)} "
                f"Allowed: {', '.join(sorted(self._entries))}"
            ) from None

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._entries))


@dataclass(frozen=True)
class Entry:
    """A registered model builder, compression method or engine, with its YAML parameters and defaults."""

    name: str
    fn: Callable[..., Any]
    params: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    check: Callable[..., None] | None = None
    """Optional ``check(**params)`` raising ValueError for values the types alone do not catch (ranges, choices);
    run when a suite is validated, so ``bench validate`` reports them before anything runs."""
    cached: Callable[..., bool] | None = None
    """Optional ``cached(**params)``: True when the result is worth keeping across processes (it trains or
    calibrates); the runner then stores it with :mod:`bench.artefacts`, keyed by content."""
    item_bytes: Callable[..., tuple[int, int]] | None = None
    """Models only, optional ``item_bytes(**params) -> (inputs, activations)``: the bytes one batch item takes in
    the inputs ``make_inputs`` builds and in the largest activations a forward pass holds at once (fp32, an
    estimate); a suite's batch sizes are checked against it when the suite is validated."""


F = TypeVar("F", bound=Callable[..., Any])


def register_entry(
    registry: Any,
    name: str,
    params: dict[str, Any] | None,
    description: str,
    check: Callable[..., None] | None = None,
    cached: Callable[..., bool] | None = None,
    item_bytes: Callable[..., tuple[int, int]] | None = None,
) -> Callable[[F], F]:
    """Decorator adding ``fn`` to ``registry`` as an :class:`Entry`; the description defaults to its docstring's
    first line."""

    def decorate(fn: F) -> F:
        doc = description or ((fn.__doc__ or "").strip().splitlines() or [""])[0]
        registry.add(name, Entry(name, fn, dict(params or {}), doc, check, cached, item_bytes))
        return fn

    return decorate


def import_submodules(package_name: str) -> None:
    """Import every module of a package, so that one new file plus its registration is all an extension needs."""
    package = importlib.import_module(package_name)
    for info in pkgutil.iter_modules(package.__path__):
        if not info.name.startswith("_"):
            importlib.import_module(f"{package_name}.{info.name}")


def find_module(name: str) -> bool:
    """Whether module ``name`` can be imported, found *without importing* it or its parent packages.

    ``importlib.util.find_spec("pkg.mod")`` would import ``pkg`` (running its ``__init__``); this asks the import
    system's finders for each part in turn, so locating a suite's user factory executes none of the user's code.
    """
    if name in sys.modules:
        return True
    path = None
    parts = name.split(".")
    for i in range(len(parts)):
        fullname = ".".join(parts[: i + 1])
        loaded = sys.modules.get(fullname)
        spec = getattr(loaded, "__spec__", None) if loaded is not None else _find_spec(fullname, path)
        if spec is None and loaded is None:
            return False
        path = getattr(loaded, "__path__", None) if loaded is not None else spec.submodule_search_locations
        if i < len(parts) - 1 and path is None:  # a module, not a package: it has no submodules
            return False
    return True


def _find_spec(fullname: str, path: Any) -> Any:
    for finder in sys.meta_path:
        find = getattr(finder, "find_spec", None)
        spec = find(fullname, path) if find is not None else None
        if spec is not None:
            return spec
    return None
