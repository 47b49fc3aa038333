"""``bench`` in a process of its own, without paying Python's and torch's start-up for each one.

A test of what a signal, an exit or a full disk does to ``bench run`` needs a process of its own: the signal stops
it, its exit status is the answer. Started afresh, each spends about two seconds importing torch and pytest before
it runs a tiny suite for one. Here one server process imports them once, at the first call of a test session, and
forks a child for each command: a process like one started with ``python -c "...; sys.exit(main())"`` (its own pid,
its own folder and environment, standard input from ``/dev/null``, standard output and errors to files, Python's
own signal handlers), in which only those modules are already imported. What a test's fake reads from the
environment is read in the child: :data:`PRELOADED` holds no fake. What Python reads as it starts (``PYTHON*``
variables, the locale) and what the preloaded modules read as they are imported comes from the environment of the
test that started the server: a test that needs other start-up settings runs ``bench`` with :mod:`subprocess`.

:func:`bench` answers as :func:`subprocess.run` with ``capture_output=True, text=True`` does."""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

PRELOADED = (
    *("torch", "pandas", "scipy.stats", "pytest", "pdb", "pytest_benchmark.plugin"),
    *("bench.cli", "bench.commands.run", "bench.plugin", "bench.runner", "bench.results", "bench.gate.compare"),
)
"""What the server imports once; each child starts with these in ``sys.modules``."""

SERVER = f"""
import json, os, signal, sys
for name in {PRELOADED!r}:
    __import__(name)
from bench.cli import main
requests = os.fdopen(0, "rb", buffering=0)
answers = 1
while True:
    line = requests.readline()
    if not line:
        os._exit(0)
    ask = json.loads(line)
    pid = os.fork()
    if pid == 0:  # the command's own process, as `python -c` would start it
        os.chdir(ask["cwd"])
        os.environ.clear()
        os.environ.update(ask["env"])
        for fd, path in ((1, ask["out"]), (2, ask["err"]), (0, os.devnull)):
            flags = os.O_RDONLY if fd == 0 else os.O_WRONLY
            handle = os.open(path, flags)
            os.dup2(handle, fd)
            os.close(handle)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        sys.argv = ["-c", *ask["argv"]]
        sys.exit(main())  # an exit, or a signal's death: the status the server waits for
    os.write(answers, (json.dumps({{"pid": pid}}) + "\\n").encode())
    _, status = os.waitpid(pid, 0)
    os.write(answers, (json.dumps({{"returncode": os.waitstatus_to_exitcode(status)}}) + "\\n").encode())
"""

_server: subprocess.Popen | None = None
_server_errors = tempfile.TemporaryFile()  # noqa: SIM115 (the server's errors, for the session: read if it ends)


def _started() -> subprocess.Popen:
    global _server
    if _server is None or _server.poll() is not None:
        _server = subprocess.Popen(
            [sys.executable, "-c", SERVER],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            bufsize=0,  # answers read a line at a time: none left in a buffer that select() cannot see
            stderr=_server_errors,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            start_new_session=True,  # a Ctrl-C of the test session is not the server's: its stdin closing ends it
        )
        atexit.register(_stop, _server)
    return _server


def _stop(server: subprocess.Popen) -> None:
    """At the session's end: the server's stdin closed ends it; it is waited for and its pipes closed (left to the
    interpreter's exit, each could print a ResourceWarning: a subprocess still running, unclosed files)."""
    server.stdin.close()
    try:
        server.wait(10)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()
    server.stdout.close()
    _server_errors.close()


def _answer(server: subprocess.Popen, deadline: float | None) -> dict:
    if deadline is not None:
        ready, _, _ = select.select([server.stdout], [], [], deadline)
        if not ready:
            raise TimeoutError
    line = server.stdout.readline()
    if not line:
        _server_errors.seek(0)
        said = _server_errors.read().decode(errors="replace")[-3000:]
        raise RuntimeError(f"the bench fork server ended (status {server.wait()}):\n{said}")
    return json.loads(line)


def bench(
    argv: list[str], cwd: str | os.PathLike[str], env: dict[str, str], timeout: float = 120
) -> subprocess.CompletedProcess:
    """Run ``bench ARGV`` in ``cwd`` with the environment ``env`` (whole, as ``subprocess.run(env=...)`` takes it) in
    a forked child of the server; a child still running after ``timeout`` seconds is killed, and
    :class:`subprocess.TimeoutExpired` raised, as :func:`subprocess.run` does."""
    server = _started()
    with tempfile.TemporaryDirectory(prefix="bench-forked-") as folder:
        out, err = Path(folder) / "out", Path(folder) / "err"
        out.touch()
        err.touch()
        ask = {"argv": list(argv), "cwd": str(cwd), "env": dict(env), "out": str(out), "err": str(err)}
        server.stdin.write((json.dumps(ask) + "\n").encode())
        server.stdin.flush()
        pid = _answer(server, None)["pid"]
        try:
            code = _answer(server, timeout)["returncode"]
        except BaseException as stop:  # past the timeout, or the test session stopped: the child goes, as with run()
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            _answer(server, None)
            if isinstance(stop, TimeoutError):
                raise subprocess.TimeoutExpired(["bench", *argv], timeout) from None
            raise
        read = {p: p.read_text(errors="replace") for p in (out, err)}
    return subprocess.CompletedProcess(["bench", *argv], code, read[out], read[err])
