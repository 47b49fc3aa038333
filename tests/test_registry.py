from __future__ import annotations

import pytest

from bench.compress import COMPRESSIONS
from bench.engines import ENGINES
from bench.errors import UnknownName
from bench.models import MODELS
from bench.registry import Registry


def test_unknown_name_suggests_and_lists():
    registry: Registry[int] = Registry("colour")
    registry.add("red", 1)
    registry.add("green", 2)
    with pytest.raises(UnknownName, match=r"unknown colour 'gren'\. Did you mean 'green'\? Allowed: green, red"):
        registry.get("gren")
    assert registry.get("red") == 1
    assert list(registry) == ["green", "red"]


def test_double_registration_is_refused():
    registry: Registry[int] = Registry("colour")
    registry.add("red", 1)
    with pytest.raises(ValueError, match="already registered"):
        registry.add("red", 2)


def test_builtins_are_registered():
    assert {"dlrm-tiny", "noop"} <= set(MODELS.names())
    assert {"fp32", "bf16", "fp16"} <= set(COMPRESSIONS.names())
    assert "eager" in ENGINES
