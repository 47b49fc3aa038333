"""``bench gate``: compare a run with the baseline; exit 1 on regression, 2 on usage errors, 3 when a guarded case
was not compared."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from bench.checks import short
from bench.commands import add_results_option
from bench.commands._args import folder_default, non_negative_int, output_file, probability
from bench.errors import BenchError
from bench.gate import DEFAULT_ALPHA, GateError, render_markdown
from bench.gate.rules import RUN_NOISE_RUNS_RANGE, parse_run_noise, parse_run_noise_runs
from bench.gate.stats import RunNoise
from bench.gate.summary import STEP_SUMMARY, append_step_summary
from bench.results import default_reports_dir


def _repo_root() -> Path:
    found = subprocess.run(["git", "rev-parse", "--show-toplevel"], capture_output=True, text=True, check=False)
    if found.returncode != 0:
        raise GateError("--rerun needs a git checkout (it re-runs the baseline's commit)")
    return Path(found.stdout.strip())


def _distinct_outputs(summary: str, verdicts: str) -> None:
    """Refuse, before anything is compared (or re-run), ``--summary`` and ``--json`` naming one file: both were staged
    to one temporary file, so the verdicts stood in the summary's place and the gate ended on "[Errno 2] No such
    file or directory: '.x.tmpN' -> 'x'". A stream both can be written to (``/dev/stdout``) is fine."""
    same = os.path.realpath(summary) == os.path.realpath(verdicts)
    if same and (not os.path.exists(summary) or os.path.isfile(summary)):
        raise GateError(
            f"--summary and --json both name {summary}: the verdicts would replace the summary; give each a file"
        )


def _not_a_run_file(path: str, option: str) -> None:
    """Refuse, before anything is compared (or re-run), an output naming a run's own file (``--summary
    results/RUN/records.jsonl``, or a link to one): it was replaced by the summary, and what the run measured lost."""
    from bench.results import run_holding

    run = run_holding(path)
    if run is not None:
        raise GateError(
            f"{option} {path}: it is {Path(os.path.realpath(path)).name} of the run in {run}, what the run measured; "
            "writing there would replace it: give another file"
        )


def gate(args: argparse.Namespace, extra: list[str]) -> int:
    from bench import gate as gating
    from bench import results as store
    from bench.gate import history

    _distinct_outputs(args.summary, args.json)
    _not_a_run_file(args.summary, "--summary")
    _not_a_run_file(args.json, "--json")
    if args.baseline_ref is not None and not args.rerun:  # it would be ignored: a gate not of the code it names
        raise GateError("--baseline-ref needs --rerun: it names the baseline code that --rerun measures again")
    # each run found and its meta.json read once (a damaged one warned about once), then compared as read
    given = store.open_runs([*(args.current or [None]), *(args.baseline or [])], args.results)
    currents = given[: len(args.current or [None])]
    current_meta = currents[0].meta
    suites = [s["name"] for s in current_meta.get("suites", [])]
    missing: list[str] = []
    if args.baseline:
        baseline_runs: list[str | Path | store.RunFolder] = list(given[len(currents) :])
    else:
        found, missing = history.baseline_for(suites, args.results)
        if not found:
            raise GateError(
                f"no baseline for suite(s) {', '.join(suites)} under {history.baseline_root(args.results)}/: "
                "promote one with `bench baseline set RUN`, or pass --baseline RUN"
            )
        baseline_runs = list(found)
    if args.run_noise_runs is not None and args.run_noise is None:
        raise GateError("--run-noise-runs needs --run-noise: the run noise those runs measured")
    noise = None if args.run_noise is None else RunNoise(args.run_noise, args.run_noise_runs)
    options = {"force": args.force, "alpha": args.alpha, "correction": args.correction, "run_noise": noise}
    if args.rerun:
        repo = _repo_root()
        baseline_meta = store.load_meta(baseline_runs[0])
        from bench.gate import rerun

        commit = rerun.baseline_commit(baseline_meta, args.baseline_ref, repo)
        paths, selection = _rerun_suites(current_meta, currents[0].path / "meta.json", repo)
        side_a, side_b, folder = rerun.rerun(paths, commit, args.rerun, args.results, repo, selection)
        result = gating.gate_runs(side_a, side_b, folder, **options)
        result.notes.append(
            f"--rerun {args.rerun}: baseline code ({commit[:12]}) and current code re-measured interleaved "
            f"(A B B A ...) in this job; runs in {folder}"
        )
    else:
        result = gating.gate_runs(baseline_runs, currents, args.results, **options)
    if missing:
        result.notes.insert(0, _no_baseline(missing, args.rerun))
    markdown = gating.write_outputs(result, args.summary, args.json, None)
    print(markdown if args.verbose else _short(result))
    print(f"summary: {args.summary}   verdicts: {args.json}")
    step_summary = os.environ.get(STEP_SUMMARY)
    if step_summary:
        try:
            append_step_summary(markdown, step_summary, args.summary, args.json)
        except GateError as err:
            # CI's copy of --summary, which is written: the exit code stays the comparison's (a regression still 1,
            # a pass still 0) rather than a usage error that would hide it
            print(f"bench gate: warning: {err}", file=sys.stderr)
    return result.exit_code


def _no_baseline(suites: list[str], rerun: int) -> str:
    """The summary's note on the current run's suites without a promoted baseline. Before, it was one line on
    standard output only: the Markdown summary (and CI's step summary) showed their cases as "new case" rows under a
    heading of "passed", never that a whole suite had nothing to be gated against; and under ``--rerun``, which
    measures them with the baseline code all the same, the line said they were not comparable."""
    named = ", ".join(suites)
    if rerun:
        return f"no promoted baseline for suite(s) {named}: --rerun measured them with the baseline code all the same"
    return (
        f"no promoted baseline for suite(s) {named}: their cases are new to the gate, not compared "
        "(promote one with bench baseline set RUN)"
    )


def _run_noise(text: str) -> float:
    """argparse type: what ``gates.run_noise`` takes, a fraction in [0, 1) or a percentage (0 trusts each run's
    own samples alone)."""
    try:
        return parse_run_noise(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _run_noise_runs(text: str) -> int:
    """argparse type: what ``gates.run_noise_runs`` takes (:func:`bench.gate.rules.parse_run_noise_runs`)."""
    try:
        return parse_run_noise_runs(int(text.strip()), "--run-noise-runs")
    except (ValueError, BenchError):
        raise argparse.ArgumentTypeError(f"{RUN_NOISE_RUNS_RANGE}, got {text!r}") from None


def _rerun_suites(meta: dict, where: Path, repo: Path) -> tuple[list[str], list[str]]:
    """What ``--rerun`` runs again, as the current run's ``meta.json`` (``where``) records it: its suite files and
    its ``-k`` selection (e.g. the GPU job's ``-k cuda``)."""
    paths = []
    for number, suite in enumerate(meta.get("suites", [])):
        path = suite.get("path")
        if not isinstance(path, str) or not path or path.startswith("-"):  # never an option to bench run
            raise GateError(f"{where}: suites[{number}].path: {short(path)} is not a suite file; --rerun runs it again")
        paths.append(_relative(path, repo))
    if not paths:  # bench run without a suite would run the default one, not this run's
        raise GateError(f"{where}: names no suite; --rerun has nothing to run again")
    argv = meta.get("argv") or []
    if not isinstance(argv, list) or not all(isinstance(arg, str) for arg in argv):
        raise GateError(f"{where}: argv: {short(argv)} is not a list of arguments; --rerun reads the run's -k there")
    return paths, ["-k", argv[argv.index("-k") + 1]] if "-k" in argv[:-1] else []


def _relative(path: str, repo: Path) -> str:
    candidate = Path(path)
    if candidate.is_absolute():
        try:
            return str(candidate.resolve().relative_to(repo.resolve()))
        except ValueError:
            raise GateError(f"--rerun: suite {path} is outside the repository, so the baseline code lacks it") from None
    return path


def _short(result) -> str:
    """The terminal view: counts, then every verdict that is not 'unchanged'."""
    lines = [render_markdown(result).split("\n### ")[0].split("\n<details>")[0].rstrip()]
    for verdict in result.verdicts:
        if verdict.verdict != "unchanged":
            change = (
                ""
                if verdict.change is None
                else f" {verdict.change:+.2%}"
                if verdict.relative
                else f" {verdict.change:+.4g}"
            )
            reason = f" ({verdict.reason})" if verdict.reason else ""
            lines.append(f"  {verdict.verdict:>14}  {verdict.case}  {verdict.metric}{change}{reason}")
    return "\n".join(lines)


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "gate",
        help="compare a run with the baseline (exit 1 on regression)",
        description=(
            "Compare the current run with a baseline case by case. Timed metrics need a significant Mann-Whitney U "
            "test on the raw samples AND an effect beyond the suite's gates: rule; size and accuracy use the rule "
            "alone. Exit codes: 0 no regression, 1 regression, 2 usage error or runs not comparable, 3 a guarded case "
            "(ok in the baseline, selected now) not compared, or nothing compared at all."
        ),
    )
    parser.add_argument(
        "--baseline",
        metavar="RUN",
        action="append",
        help="baseline run; repeat to pool several (default: the promoted baseline of each suite)",
    )
    parser.add_argument(
        "--current", metavar="RUN", action="append", help="run to judge; repeat to pool several (default: latest)"
    )
    add_results_option(parser)
    parser.add_argument("--force", action="store_true", help="compare runs from different environments anyway")
    parser.add_argument(
        "--alpha",
        type=probability,
        default=None,
        help=f"test level (default: the suite's gates.alpha or {DEFAULT_ALPHA})",
    )
    parser.add_argument(
        "--correction",
        choices=("holm", "none"),
        default="holm",
        help="multiple-comparison correction over the timed comparisons (default: holm)",
    )
    parser.add_argument(
        "--run-noise",
        type=_run_noise,
        default=None,
        metavar="FRACTION",
        help="one run's relative standard deviation between runs here, in [0, 1) or a percentage (0.04 or 4%%), "
        "taken for one run a side (default: the suite's gates.run_noise or 0.30; bench calibrate measures it); "
        "replaces the suite's run noise and its run count",
    )
    parser.add_argument(
        "--run-noise-runs",
        type=_run_noise_runs,
        default=None,
        metavar="N",
        help="how many runs --run-noise was measured over (bench calibrate says): a measured run noise is also pooled "
        "with the run pairs of --rerun (needs --run-noise; --run-noise without it is assumed, not pooled)",
    )
    parser.add_argument(
        "--rerun",
        type=non_negative_int,
        metavar="N",
        default=0,
        help="re-measure baseline code and current code N times each (0 to 100), interleaved, and gate those",
    )
    parser.add_argument("--baseline-ref", metavar="REF", help="with --rerun: the baseline's code (default: its commit)")
    reports = Path(default_reports_dir()) / "gate"
    parser.add_argument(
        "--summary",
        type=output_file,
        default=folder_default("BENCH_REPORTS_DIR", str(reports / "summary.md"), "--summary"),
        help="Markdown summary file (default: $BENCH_REPORTS_DIR or <rootdir>/reports/, then gate/summary.md)",
    )
    parser.add_argument(
        "--json",
        type=output_file,
        default=folder_default("BENCH_REPORTS_DIR", str(reports / "verdicts.json"), "--json"),
        help="JSON verdict file (default: $BENCH_REPORTS_DIR or <rootdir>/reports/, then gate/verdicts.json)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="print the whole Markdown summary")
    parser.set_defaults(func=gate)
