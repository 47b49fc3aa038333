"""A pytest plugin for tests (``-p tests.fakes.full_disk``): the file system refuses the run's writes from the start
of case ``$FULL_DISK_AT`` (1 for the first case), as a disk that fills up in the middle of a run: every write that
would take a file past ``$FULL_DISK_BYTES`` bytes (default 1000, less than a run's ``meta.json``) fails with
EFBIG (``RLIMIT_FSIZE``); ``FULL_DISK_BYTES=samples`` sets the limit 100 bytes past the run's ``samples.jsonl``,
which its next line crosses and no other file of the run reaches. ``$FOLDER_GONE_AT`` instead deletes the run's
folder (``rm -rf results/<run>``) as that case starts (``$FOLDER_GONE_AFTER``: as it ends; with ``$FOLDER_BLOCKED``
a file is left in its place), and ``$READ_ONLY_AT``
makes it read-only then: the files the run holds open still take its appends, but no new file can be made there
(its final ``meta.json``)."""

from __future__ import annotations

import errno
import os
import resource
import shutil
import signal

import pytest

import bench.results.writer
from bench.plugin import SESSION_KEY

_started = {"cases": 0}


def _refused(path, payload):
    raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path.with_suffix(".tmp")))


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item) -> None:
    _started["cases"] += 1
    if str(_started["cases"]) == os.environ.get("FULL_DISK_AT"):
        size = os.environ.get("FULL_DISK_BYTES", "1000")
        if size == "samples":
            size = (item.config.stash[SESSION_KEY].writer.path / "samples.jsonl").stat().st_size + 100
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails (EFBIG), not the process
        resource.setrlimit(resource.RLIMIT_FSIZE, (int(size), resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
    if str(_started["cases"]) == os.environ.get("READ_ONLY_AT"):  # chmod would not refuse root: refused here
        bench.results.writer._write_json_atomic = _refused
    if str(_started["cases"]) == os.environ.get("FOLDER_GONE_AT"):
        shutil.rmtree(item.config.stash[SESSION_KEY].writer.path)


def pytest_runtest_teardown(item) -> None:
    if str(_started["cases"]) == os.environ.get("FOLDER_GONE_AFTER"):  # once that case is appended
        path = item.config.stash[SESSION_KEY].writer.path
        shutil.rmtree(path)
        if os.environ.get("FOLDER_BLOCKED"):  # and a file in its place: the run cannot be written back there
            path.write_text("not a folder")
