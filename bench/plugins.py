"""Registration helpers shared by the model, compression and engine registries."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar


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


F = TypeVar("F", bound=Callable[..., Any])


def register_entry(
    registry: Any, name: str, params: dict[str, Any] | None, description: str, check: Callable[..., None] | None = None
) -> Callable[[F], F]:
    """Decorator adding ``fn`` to ``registry`` as an :class:`Entry`; the description defaults to its docstring's
    first line."""

    def decorate(fn: F) -> F:
        doc = description or ((fn.__doc__ or "").strip().splitlines() or [""])[0]
        registry.add(name, Entry(name, fn, dict(params or {}), doc, check))
        return fn

    return decorate


def import_submodules(package_name: str) -> None:
    """Import every module of a package, so that one new file plus its registration is all an extension needs."""
    package = importlib.import_module(package_name)
    for info in pkgutil.iter_modules(package.__path__):
        if not info.name.startswith("_"):
            importlib.import_module(f"{package_name}.{info.name}")
