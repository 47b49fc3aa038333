"""User-factory models for tests: one that counts its builds, one that fails, one that kills or stops its process
or its pytest session."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
import torch

from bench.models import ModelBundle

BUILDS = {"count": 0}


class Linear(torch.nn.Module):
    def __init__(
        self,
        fail_at_batch: int = 0,
        kill_at_batch: int = 0,
        width: int = 8,
        term_at_batch: int = 0,
        int_at_batch: int = 0,
        exit_at_batch: int = 0,
        exit_code: int | None = None,
        outcome_at_batch: int = 0,
        outcome: str = "skip",
        sysexit_at_batch: int = 0,
        in_load: bool = False,
        load_sleep_s: float = 0.0,
        hang_s: float = 0.0,
        marker: str = "",
        calls_file: str = "",
    ):
        super().__init__()
        self.linear = torch.nn.Linear(width, 4)
        self.fail_at_batch = fail_at_batch
        self.kill_at_batch = kill_at_batch
        self.term_at_batch = term_at_batch
        self.int_at_batch = int_at_batch
        self.exit_at_batch = exit_at_batch
        self.exit_code = exit_code
        self.outcome_at_batch, self.outcome = outcome_at_batch, outcome
        self.sysexit_at_batch = sysexit_at_batch
        self.in_load, self.load_sleep_s, self.load_calls = in_load, load_sleep_s, 0
        self.hang_s, self.marker = hang_s, marker  # after its Ctrl-C: a call that does not return (a deadlock)
        self.calls_file = calls_file  # each call appends its batch size there

    def forward(self, x):
        if self.calls_file:
            with open(self.calls_file, "a") as calls:
                calls.write(f"{x.shape[0]}\n")
        return self._forward(x)

    def _forward(self, x):
        if threading.current_thread().name == "bench-sut":  # the load pass's worker: 5 warm-up calls, then LoadGen's
            self.load_calls += 1
            time.sleep(self.load_sleep_s)
        elif self.in_load:  # in_load: the misbehaviours wait for the load pass's first LoadGen query
            return self.linear(x)
        if self.in_load and self.load_calls <= 5:
            return self.linear(x)
        if x.shape[0] == self.sysexit_at_batch:
            sys.exit(1)  # a model that ends its process
        if x.shape[0] == self.fail_at_batch:
            raise RuntimeError(f"model cannot take batch {x.shape[0]}")
        if x.shape[0] == self.kill_at_batch:
            os.kill(os.getpid(), signal.SIGKILL)  # what an out-of-memory kill looks like to the harness
        if x.shape[0] == self.term_at_batch:
            os.kill(os.getpid(), signal.SIGTERM)  # what a CI timeout looks like
        if x.shape[0] == self.int_at_batch:
            os.kill(os.getpid(), signal.SIGINT)  # what Ctrl-C in the terminal looks like
            if self.marker:
                open(self.marker, "w").close()  # the test waits for it
            time.sleep(self.hang_s)
        if x.shape[0] == self.exit_at_batch:
            pytest.exit(f"stop at batch {x.shape[0]}", returncode=self.exit_code)  # code that ends the session
        if x.shape[0] == self.outcome_at_batch:  # pytest.skip() or pytest.fail() from inside the model
            getattr(pytest, self.outcome)(f"{self.outcome} at batch {x.shape[0]}")
        return self.linear(x)


def build(width: int = 8, **actions: Any) -> ModelBundle:
    """A :class:`Linear` of ``width`` inputs; ``actions`` are its ``*_at_batch`` misbehaviours (see its arguments)."""
    BUILDS["count"] += 1
    module = Linear(width=width, **actions).eval()
    return ModelBundle(module=module, make_inputs=lambda batch: (torch.randn(batch, width),), task="test")


CALLED_WITH: dict[str, Any] = {}


def build_recording(**params: Any) -> ModelBundle:
    """A factory that keeps the keyword arguments it was called with in :data:`CALLED_WITH`."""
    CALLED_WITH.clear()
    CALLED_WITH.update(params)
    return build()


def build_seeding() -> ModelBundle:
    """A factory that seeds torch's global RNG, as user code often does."""
    torch.manual_seed(0)
    return build()


def build_cpp_error() -> ModelBundle:
    """A factory failing the way a huge allocation fails deep in C++: a first line, then a 40-line native stack."""
    stack = "".join(f"frame #{i}: 0x{i:012x} in libtorch_cpu.so (c10::alloc + {i})\n" for i in range(40))
    raise RuntimeError(f"DefaultCPUAllocator: can't allocate memory: you tried to allocate 4e12 bytes.\n{stack}")


def _evaluate_then(end: Callable[[], None], inputs: torch.Tensor | None = None) -> ModelBundle:
    """The fake model, whose accuracy evaluation makes one call (on ``inputs``: by default 4 rows it takes) and then
    ends with ``end()``."""
    bundle = build()

    def evaluate(predict):
        predict(torch.randn(4, 8) if inputs is None else inputs)
        end()

    bundle.evaluate = evaluate
    return bundle


def _raise(err: BaseException) -> None:
    raise err


def build_failing_evaluate() -> ModelBundle:
    """A model whose accuracy pass raises (as a device mix-up on a GPU did): latency and memory must survive it."""
    message = "Expected all tensors to be on the same device,\n but found at least two devices"
    return _evaluate_then(lambda: _raise(RuntimeError(message)))


def build_evaluate_of_wrong_inputs() -> ModelBundle:
    """A model whose ``evaluate`` hands its ``predict`` rows of 3 features, which the model (of 8) cannot take."""
    return _evaluate_then(lambda: None, inputs=torch.randn(4, 3))


def build_raising_inputs() -> ModelBundle:
    """A factory whose ``make_inputs`` raises (a tokenizer file it cannot find)."""
    bundle = build()
    bundle.make_inputs = lambda batch: _raise(KeyError("tokenizer"))
    return bundle


def build_raising_calibration() -> ModelBundle:
    """A factory whose ``calibration`` is a generator that raises as it is read (a training set it cannot open)."""
    bundle = build()

    def calibration():
        yield (torch.randn(4, 8),)
        raise FileNotFoundError("train.csv")

    bundle.calibration = calibration
    return bundle


def build_exiting_evaluate() -> ModelBundle:
    """A model whose accuracy pass calls ``pytest.exit()`` (an evaluation that decides the session must stop)."""
    return _evaluate_then(lambda: pytest.exit("the evaluation set is gone"))


def build_skipping_evaluate() -> ModelBundle:
    """A model whose accuracy pass calls ``pytest.skip()`` (an evaluation whose data is missing here)."""
    return _evaluate_then(lambda: pytest.skip("no evaluation set here"))


def build_tensor_inputs() -> ModelBundle:
    """A factory whose ``make_inputs`` returns the input tensor itself, not a tuple of inputs."""
    bundle = build()
    bundle.make_inputs = lambda batch: torch.randn(batch, 8)
    return bundle


def build_list_inputs() -> ModelBundle:
    """A factory whose ``make_inputs`` returns a list of inputs (taken as a tuple)."""
    bundle = build()
    bundle.make_inputs = lambda batch: [torch.randn(batch, 8)]
    return bundle


def build_sliced_inputs() -> ModelBundle:
    """A factory whose ``make_inputs`` slices a held-out set of 10 rows: a larger batch gets 10 rows only."""
    bundle = build()
    held_out = torch.randn(10, 8)
    bundle.make_inputs = lambda batch: (held_out[:batch],)
    return bundle


class FlatBags(torch.nn.Module):
    """An embedding-bag model called as ``(ids, offsets)``: the ids of every bag in one flat tensor (3 a bag), one
    offset per bag, so only ``offsets`` has a row per batch item."""

    def __init__(self):
        super().__init__()
        self.bags = torch.nn.EmbeddingBag(100, 4)

    def forward(self, ids, offsets):
        return self.bags(ids, offsets)


def build_flat_bags() -> ModelBundle:
    """A factory whose first input is not one row per item (flat ids); its offsets are."""
    return ModelBundle(
        module=FlatBags().eval(),
        make_inputs=lambda batch: (torch.randint(0, 100, (3 * batch,)), torch.arange(batch) * 3),
    )


def build_function_module() -> ModelBundle:
    """A factory whose ``module`` is a plain function around a layer, not an ``nn.Module``."""
    bundle = build()
    layer = bundle.module
    bundle.module = lambda x: layer(x)
    return bundle


class DataDependent(torch.nn.Module):
    """A model whose control flow depends on its data: it runs eagerly, and ``torch.export`` cannot trace it."""

    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(8, 4)

    def forward(self, x):
        y = self.linear(x)
        if float(y.sum()) > 0:  # the line the export fails at
            return y
        return -y


def build_training_module() -> ModelBundle:
    """A factory that forgot ``.eval()``: its module, with a dropout layer, is still in training mode."""
    bundle = build()
    bundle.module = torch.nn.Sequential(torch.nn.Linear(8, 8), torch.nn.Dropout(0.5), torch.nn.Linear(8, 4))
    return bundle


def build_nothing() -> None:
    """A factory that forgot its ``return``."""
    build()


def build_tensor_accuracy() -> ModelBundle:
    """A factory whose ``evaluate`` gives its accuracy as a tensor of one element, as ``(a == b).float().mean()`` is."""
    from bench.models import Accuracy

    bundle = build()
    bundle.evaluate = lambda predict: Accuracy(torch.tensor(0.75), "top1")
    return bundle


def build_float_evaluate() -> ModelBundle:
    """A factory whose ``evaluate`` returns a bare number, not an ``Accuracy``."""
    bundle = build()
    bundle.evaluate = lambda predict: 0.5
    return bundle
