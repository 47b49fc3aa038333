"""A pytest plugin for tests (``-p tests.fakes.signal_on_close``): a second signal (``$SIGNAL_ON_CLOSE``, SIGINT by
default) arrives just as the run's writer starts writing the run's final ``meta.json``, as a second Ctrl-C does when
the first one's shutdown takes a moment."""

from __future__ import annotations

import os
import signal

import bench.results.writer

_write = bench.results.writer._write_json_atomic


def _write_after_a_signal(path, payload):
    if payload.get("status") != "running":  # the close, not the start of the run
        os.kill(os.getpid(), signal.Signals[os.environ.get("SIGNAL_ON_CLOSE", "SIGINT")])
    _write(path, payload)


bench.results.writer._write_json_atomic = _write_after_a_signal
