"""The one measurement window: call the model until the time is up, while a thread reads a meter.

The memory pass (RSS every millisecond) and the energy pass (NVML power or RAPL counters) both run their window
through :func:`run_window`; the latency pass is timed by pytest-benchmark instead.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Clock = Callable[[], float]


class Sampler(threading.Thread):
    """Calls ``read`` every ``interval_s`` until stopped; keeps ``(time, value)`` pairs and the first error."""

    def __init__(self, read: Callable[[], Any], clock: Clock, interval_s: float):
        super().__init__(daemon=True, name="bench-sampler")
        self.read = read
        self.clock = clock
        self.interval_s = interval_s
        self.samples: list[tuple[float, Any]] = []
        self.error: BaseException | None = None
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.wait(self.interval_s):
            try:
                self.samples.append((self.clock(), self.read()))
            except Exception as err:  # reported by the caller after the window
                self.error = err
                return

    def stop(self) -> None:
        self._stop_event.set()
        self.join()


@dataclass(frozen=True)
class Window:
    """One window: calls made and readings taken, the first at its start and the last at its end."""

    calls: int
    samples: list[tuple[float, Any]]
    error: BaseException | None = None

    @property
    def seconds(self) -> float:
        return self.samples[-1][0] - self.samples[0][0]


def run_window(
    call: Callable[[], object], min_s: float, read: Callable[[], Any], clock: Clock, interval_s: float | None
) -> Window:
    """Read, run ``call`` until ``min_s`` have passed (at least once), read again; a thread reads in between."""
    samples = [(clock(), read())]
    sampler = Sampler(read, clock, interval_s) if interval_s else None
    if sampler is not None:
        sampler.start()
    calls = 0
    try:
        while True:
            call()
            calls += 1
            if clock() - samples[0][0] >= min_s:
                break
    finally:
        if sampler is not None:
            sampler.stop()
    if sampler is not None:
        samples += sampler.samples
    samples.append((clock(), read()))
    return Window(calls, samples, sampler.error if sampler is not None else None)
