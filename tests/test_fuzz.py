"""Property-based: generated suites and command lines either work or get the project's one-line error.

Suites (random mappings and types, NaN/inf/huge numbers, deep nesting, YAML aliases, raw token soup, bytes that are
not UTF-8) go through validation: each must validate or raise :class:`bench.errors.SuiteError` (one line), within
10 s. Command lines over every subcommand's options (numbers out of range, paths of the wrong kind, bogus names) must
end in an exit code or argparse's usage error, never a traceback. The counts (tried, rejected cleanly, tracebacks,
hangs) are printed, and written to ``$BENCH_FUZZ_COUNTS`` when that names a file. ``$BENCH_FUZZ_EXAMPLES`` and
``$BENCH_FUZZ_CLI_EXAMPLES`` set the numbers of examples; ``$BENCH_FUZZ_RANDOM=1`` draws new ones on every run.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
from collections import Counter

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.cli import build_parser, main
from bench.errors import SuiteError
from bench.suite import load_suite
from tests.gate_helpers import latencies, make_run

LIMIT_S = 10
SUITE_EXAMPLES = int(os.environ.get("BENCH_FUZZ_EXAMPLES", "250"))
CLI_EXAMPLES = int(os.environ.get("BENCH_FUZZ_CLI_EXAMPLES", "150"))

KEYS = [
    "suite", "description", "extends", "models", "compression", "engines", "hardware", "batch_sizes", "measure",
    "exclude", "include", "scoring", "constraints", "prices", "capacity", "gates", "cpu", "cuda", "threads",
    "devices", "name", "params", "label", "sweep", "factory", "warmup_s", "min_time_s", "min_rounds", "max_rounds",
    "memory_s", "energy", "cpu_tdp_w", "repeats", "rows", "preset", "seq_len", "amount", "mode", "model", "device",
    "batch_size", "latency_p50_ms", "noop", "dlrm-tiny", "dlrm-ctr", "fp32", "prune-l1", "<<", "x", "",
]  # fmt: skip
NAMES = ["noop", "dlrm-tiny", "dlrm-ctr", "minilm-search", "fp32", "bf16", "prune-l1", "eager", "compile", "cpu"]
NUMBERS = st.one_of(
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, 1, -1, 2**63, 10**12, 1e308, float("inf"), float("-inf"), float("nan"), 0.5, 1e-300]),
)
SCALARS = st.one_of(NUMBERS, st.booleans(), st.none(), st.sampled_from(NAMES), st.text(max_size=12))
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.sampled_from(KEYS), inner, max_size=4)),
    max_leaves=12,
)
BASE = {"suite": "fuzz", "models": ["noop"], "measure": {"warmup_s": 0.01, "min_time_s": 0.02}}


@st.composite
def structured(draw) -> bytes:
    """A valid suite with values replaced at random key paths; a value may be shared (dumped as an alias)."""
    suite = json.loads(json.dumps(BASE))
    shared = draw(VALUES)
    for _ in range(draw(st.integers(1, 4))):
        value = shared if draw(st.booleans()) else draw(VALUES)
        where = suite
        for key in draw(st.lists(st.sampled_from(KEYS), min_size=1, max_size=3))[:-1]:
            child = where.get(key) if isinstance(where, dict) else None
            where = child if isinstance(child, dict) else where
        if isinstance(where, dict):
            where[draw(st.sampled_from(KEYS))] = value
    return yaml.safe_dump(suite, default_flow_style=draw(st.booleans()), allow_unicode=True).encode()


TOKENS = ["{", "}", "[", "]", ",", ": ", "\n", "  ", "- ", "&a ", "*a", "&b ", "*b", "<<: ", "!!str ", "!!binary ",
          "suite: f\n", "models: [noop]\n", "measure: ", ".inf", ".nan", "-1", "1e999", "99999999999999999999999",
          "min_rounds", "batch_sizes", "'", '"', "#", "---\n", "? ", "|\n", "\t", "%YAML 1.1\n"]  # fmt: skip


@st.composite
def raw(draw) -> bytes:
    """Token soup, optionally after a valid head; sometimes with bytes that are not UTF-8."""
    head = draw(st.sampled_from(["", "suite: f\nmodels: [noop]\n"]))
    text = (head + "".join(draw(st.lists(st.sampled_from(TOKENS), max_size=40)))).encode()
    return text + draw(st.sampled_from([b"", b"\xff\xfe", b"\xc3(", b"\x00"]))


@st.composite
def explosive(draw) -> bytes:
    """Alias chains (billion laughs) and deep nesting, at random sizes around the limits."""
    if draw(st.booleans()):
        width, levels = draw(st.integers(2, 10)), draw(st.integers(1, 12))
        text = "a0: &a0 [x]\n" + "".join(
            f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * width)}]\n" for i in range(1, levels)
        )
        return (f"suite: f\n{text}models: [{{noop: {{p: *a{levels - 1}}}}}]\n").encode()
    depth = draw(st.integers(1, 3000))
    return f"suite: f\nmodels: [noop]\nx: {'[' * depth}1{']' * depth}\n".encode()


@contextlib.contextmanager
def time_limit(seconds: int):
    """Raise TimeoutError in this (main) thread after ``seconds``: a hang fails the example instead of the run."""

    def expire(signum, frame):
        raise TimeoutError(f"no answer within {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@contextlib.contextmanager
def answered(counts: Counter, expected: tuple[type[BaseException], ...]):
    """Within :data:`LIMIT_S`; a hang, or an exception other than the ``expected`` answers, is counted and fails."""
    try:
        with time_limit(LIMIT_S):
            yield
    except expected:
        raise
    except TimeoutError:
        counts["hangs"] += 1
        raise
    except Exception:
        counts["tracebacks"] += 1
        raise


def report(kind: str, counts: Counter) -> None:
    line = f"{kind}: tried {counts['tried']}, " + ", ".join(
        f"{k} {v}" for k, v in sorted(counts.items()) if k != "tried"
    )
    print(f"\nfuzz {line}")
    target = os.environ.get("BENCH_FUZZ_COUNTS")
    if target:
        with open(target, "a", encoding="utf-8") as handle:
            handle.write(json.dumps({"kind": kind, **counts}) + "\n")


FUZZ = settings(
    deadline=None,  # time is bounded by time_limit (a hang), not by hypothesis' per-example deadline (noise)
    database=None,
    derandomize=not os.environ.get("BENCH_FUZZ_RANDOM"),  # CI: the same examples every time; set it to explore
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)


@pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="needs POSIX interval timers")
def test_generated_suites_validate_or_fail_in_one_line(tmp_path, capsys):
    counts: Counter = Counter()
    path = tmp_path / "fuzz.yaml"

    @settings(FUZZ, max_examples=SUITE_EXAMPLES)
    @given(body=st.one_of(structured(), raw(), explosive()))
    def check(body: bytes) -> None:
        path.write_bytes(body)
        counts["tried"] += 1
        try:
            with answered(counts, (SuiteError,)):
                load_suite(path)
        except SuiteError as err:
            message = str(err)
            assert "\n" not in message and message.startswith(str(path)), message
            counts["rejected cleanly"] += 1
        else:
            counts["valid"] += 1

    check()
    with capsys.disabled():
        report("suites", counts)
    assert counts["tried"] == counts["rejected cleanly"] + counts["valid"] and counts["rejected cleanly"] > 0


@pytest.fixture
def cli_world(tmp_path, monkeypatch):
    """A working folder with runs (one of them damaged), a baseline, and paths of every kind to point options at."""
    monkeypatch.chdir(tmp_path)
    results = tmp_path / "results"
    cases = {"m[a]": {"samples": latencies(1), "model_size_bytes": 1000}, "m[b]": {"samples": latencies(2)}}
    make_run(results, "r1", cases, started_at="2026-11-21T00:00:00Z")
    make_run(results, "r2", cases, started_at="2026-11-22T00:00:00Z")
    (make_run(results, "r3", cases, started_at="2026-11-23T00:00:00Z") / "meta.json").write_bytes(b"\xff[")
    assert main(["baseline", "set", "r1", "--results", str(results)]) == 0
    (tmp_path / "a-file").write_text("x")
    (tmp_path / "binary.yaml").write_bytes(b"cpu_core_hour: \xff\n")
    (tmp_path / "suite.yaml").write_text("suite: s\nmodels: [noop]\n")
    return tmp_path


PARSE_ONLY = {"run", "calibrate", "overhead", "report"}
"""Subcommands whose accepted arguments would start a benchmark or a report: their arguments are parsed only."""


def options() -> dict[str, list[str]]:
    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices
    found = {}
    for name, sub in commands.items():
        if sub._subparsers is not None:  # baseline set / show
            for action_name, action_parser in sub._subparsers._group_actions[0].choices.items():
                found[f"{name} {action_name}"] = [o for a in action_parser._actions for o in a.option_strings]
        else:
            found[name] = [o for a in sub._actions for o in a.option_strings]
    return found


VALUE_TOKENS = ["0", "-1", "1", "3", "nan", "inf", "1e309", "99999999999999999999", "", "x", "bogus", "latest",
                "baseline", "r1", "r3", "r1\n", "../x", "s", "demo", "latency_p50_ms", "{file}", "{dir}", "{missing}",
                "{file}/below", "{binary}", "{suite}", "{results}"]  # fmt: skip


@pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="needs POSIX interval timers")
@pytest.mark.filterwarnings("default")  # as a shell runs `bench`: a warning (a damaged run) is shown, not raised
def test_generated_command_lines_end_in_an_exit_code_never_a_traceback(cli_world, capsys):
    counts: Counter = Counter()
    known = options()
    paths = {"{file}": "a-file", "{dir}": str(cli_world), "{missing}": "missing/x", "{binary}": "binary.yaml",
             "{suite}": "suite.yaml", "{results}": "results"}  # fmt: skip

    def fill(token: str) -> str:
        for key, value in paths.items():
            token = token.replace(key, value)
        return token

    @settings(FUZZ, max_examples=CLI_EXAMPLES)
    @given(data=st.data())
    def check(data) -> None:
        command = data.draw(st.sampled_from(sorted(known)))
        argv = command.split()
        for _ in range(data.draw(st.integers(0, 4))):
            option = data.draw(st.sampled_from([*known[command], "--bogus", None]))
            if option in ("-h", "--help", "--version"):
                continue
            argv += [option] if option else []
            argv += [fill(data.draw(st.sampled_from(VALUE_TOKENS)))]
        if "--results" not in argv and command.split()[0] not in ("validate",):
            argv += ["--results", "results"]
        counts["tried"] += 1
        try:
            with answered(counts, (SystemExit,)):
                if command in PARSE_ONLY:
                    build_parser().parse_known_args(argv)
                    code = 0
                else:
                    code = main(argv)
        except SystemExit as done:  # argparse: a usage error is exit 2 with one error line
            code = done.code
            assert code in (0, 2), argv
        err = capsys.readouterr().err
        assert "Traceback" not in err, argv
        assert code in (0, 1, 2, 3), (argv, code)
        errors = [line for line in err.splitlines() if "error:" in line]
        if code == 2 and command not in PARSE_ONLY:  # usage or input error: exactly one line says what
            assert len(errors) == 1 and errors[0].startswith("bench"), (argv, err)
        counts["exit 0" if code == 0 else "rejected cleanly" if code == 2 else f"exit {code}"] += 1

    check()
    with capsys.disabled():
        report("cli", counts)
    assert counts["tracebacks"] == counts["hangs"] == 0 and counts["rejected cleanly"] > 0
