"""Registration helpers shared by the model, compression and engine registries."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Entry:
    """A registered model builder, compression method or engine, with its YAML parameters and defaults."""

    name: str
    fn: Callable[..., Any]
    params: dict[str, Any] = field(default_factory=dict)
    description: str = ""


def import_submodules(package_name: str) -> None:
    """Import every module of a package, so that one new file plus its registration is all an extension needs."""
    package = importlib.import_module(package_name)
    for info in pkgutil.iter_modules(package.__path__):
        if not info.name.startswith("_"):
            importlib.import_module(f"{package_name}.{info.name}")
