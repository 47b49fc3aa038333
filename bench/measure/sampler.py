"""A background thread that reads a meter at a fixed interval while a measurement window runs."""

from __future__ import annotations

import threading
from collections.abc import Callable
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
