"""Trained reference weights, cached outside git: one file per model config, keyed by a hash of that config.

The folder is ``$BENCH_CACHE_DIR`` when set, else ``~/.cache/bench``. Delete a file (or the folder) to retrain.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import torch

from bench.artefacts import cache_dir, config_hash, save_atomic


def trained(
    kind: str, config: dict[str, Any], module: torch.nn.Module, train: Callable[[torch.nn.Module], dict[str, Any]]
) -> dict[str, Any]:
    """Load ``module``'s trained weights from the cache, or train it with ``train(module)`` and cache them.

    Returns what to record: ``weights_cache`` (``hit``/``miss``), the cache file, and on a miss the
    ``first_use_train_time_s`` plus whatever ``train`` returned. Training runs with a fixed torch seed.
    """
    path = cache_dir() / kind / f"{config_hash(config)}.pt"
    if path.is_file():
        payload = torch.load(path, map_location="cpu", weights_only=True)
        module.load_state_dict(payload["state_dict"])
        return {"weights_cache": "hit", "weights_file": str(path), **payload.get("info", {})}
    start = time.perf_counter()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(config.get("seed", 0)))
        info = train(module)
    info = {**info, "first_use_train_time_s": round(time.perf_counter() - start, 3)}
    save_atomic({"config": config, "state_dict": module.state_dict(), "info": info}, path)
    return {"weights_cache": "miss", "weights_file": str(path), **info}
