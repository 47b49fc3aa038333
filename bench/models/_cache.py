"""Trained reference weights, cached outside git: one file per model config, keyed by a hash of that config.

The folder is ``$BENCH_CACHE_DIR`` when set, else ``~/.cache/bench``. Delete a file (or the folder) to retrain.
A file that does not hold this config's weights for this module, intact (truncated, zero bytes, another config's,
other shapes, bytes that no longer match the digest stored with them), is reported in one warning and retrained.
Files from before cache entries had a digest of their bytes (:func:`bench.artefacts.load_entry`) still load: their
tensors are checked against the digest stored with them.
"""

from __future__ import annotations

import functools
import time
import warnings
from collections.abc import Callable
from typing import Any

import torch

from bench.artefacts import cache_dir, config_hash, load_entry, shared_entry, state_digest, store
from bench.errors import first_few


def trained(
    kind: str, config: dict[str, Any], module: torch.nn.Module, train: Callable[[torch.nn.Module], dict[str, Any]]
) -> dict[str, Any]:
    """Load ``module``'s trained weights from the cache, or train it with ``train(module)`` and cache them.

    Returns what to record: ``weights_cache`` (``hit``/``miss``), the cache file, and on a miss the
    ``first_use_train_time_s`` plus whatever ``train`` returned. Training runs with a fixed torch seed.
    """
    path = cache_dir() / kind / f"{config_hash(config)}.pt"
    loader = functools.partial(_weights_for, config=config, module=module)
    with shared_entry(path, lambda: load_entry(path, loader, accept_undigested=True)) as payload:
        if payload is None:  # not cached, nor stored meanwhile by another process that was training it
            start = time.perf_counter()
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(int(config.get("seed", 0)))
                info = train(module)
            info = {**info, "first_use_train_time_s": round(time.perf_counter() - start, 3)}
            state = module.state_dict()
            entry = {"config": config, "state_dict": state, "sha256": state_digest(state), "info": info}
            return {"weights_cache": "miss", "weights_file": store(entry, path), **info}
    module.load_state_dict(payload["state_dict"])
    return {"weights_cache": "hit", "weights_file": str(path), **payload.get("info", {})}


def _weights_for(file, config: dict[str, Any], module: torch.nn.Module) -> dict[str, Any]:
    """The payload in ``file`` when it holds ``config``'s weights for ``module`` intact, checked before any of them
    is loaded (a refused file must not leave ``module`` half overwritten); else ValueError saying what is wrong."""
    with warnings.catch_warnings():  # damaged bytes that open like a pickle of another protocol: said by our warning
        warnings.filterwarnings("ignore", message="Detected pickle protocol", category=UserWarning)
        payload = torch.load(file, map_location="cpu", weights_only=True)
    if not isinstance(payload, dict) or not isinstance(payload.get("state_dict"), dict):
        raise ValueError("no state_dict in it")
    if payload.get("config") != config:
        raise ValueError("it holds the weights of another config")
    state, expected = payload["state_dict"], module.state_dict()
    wrong = [
        name
        for name in expected.keys() | state.keys()
        if name not in state or name not in expected or _shape(state[name]) != _shape(expected[name])
    ]
    if wrong:
        raise ValueError(f"its tensors do not fit the model ({first_few(sorted(wrong), 3)})")
    if "sha256" in payload and payload["sha256"] != state_digest(state):  # files from before the digest have none
        raise ValueError("its tensors do not match the digest stored with them")
    if not isinstance(payload.get("info", {}), dict):
        raise ValueError("its info is not a mapping")
    return payload


def _shape(value: Any) -> Any:
    return (type(value).__name__, tuple(value.shape)) if isinstance(value, torch.Tensor) else type(value).__name__
